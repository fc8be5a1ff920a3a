import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * A Lambda fed by an SQS queue (ReportBatchItemFailures): Powertools' batch
 * processor runs `process` on each message body, and only the messages whose
 * `process` threw are reported as failed, so SQS redelivers just them (and,
 * after the queue's maxReceiveCount, moves them to its DLQ). A batch that
 * failed entirely is reported message by message too rather than thrown: the
 * same redelivery, without counting a throttled dependency as a function error.
 */
export function sqsBatchHandler(process: (body: string) => Promise<unknown>) {
  const processor = new BatchProcessor(EventType.SQS);
  return middy<SQSEvent, SQSBatchResponse, Error, Context>().handler((event, context) =>
    processPartialResponse(event, (record: SQSRecord) => process(record.body), processor, {
      context,
      throwOnFullBatchFailure: false,
    }),
  );
}
