import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { pollSchedule } from '../../core/control-plane/schedules/poll';
import { parsePollRequest } from '../../core/control-plane/schedules/schemas';
import { buildSchedulePoll } from '../../core/runtime/schedules';

const deps = buildSchedulePoll();
const processor = new BatchProcessor(EventType.SQS);

/**
 * One poll per message (batch size 1, functions/schedules.yml). A poll that throws is a batch item failure:
 * SQS delivers it again after the visibility timeout, and after 5 receives moves it to the dead-letter queue.
 */
async function pollOne(record: SQSRecord): Promise<void> {
  await pollSchedule(deps, parsePollRequest(record.body));
}

export const handler = middy<SQSEvent, unknown, Error, Context>().handler((event, context) =>
  processPartialResponse(event, pollOne, processor, { context, throwOnFullBatchFailure: false }),
);
