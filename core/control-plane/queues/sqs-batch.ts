import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type CorrelationKeys, withCorrelationKeys, withInvocationLogger } from '../../observability/invocation';

/**
 * A Lambda fed by an SQS queue (ReportBatchItemFailures): Powertools' batch
 * processor runs `process` on each message body, and only the messages whose
 * `process` threw are reported as failed, so SQS redelivers just them (and,
 * after the queue's maxReceiveCount, moves them to its DLQ). A batch that
 * failed entirely is reported message by message too rather than thrown: the
 * same redelivery, without counting a throttled dependency as a function error.
 * Each message is handled with a logger that adds its id and the ids its body
 * names (customerId, scheduleId, jobId) to the invocation's (withInvocationLogger).
 */
export function sqsBatchHandler(process: (body: string) => Promise<unknown>) {
  const processor = new BatchProcessor(EventType.SQS);
  const handler = middy<SQSEvent, SQSBatchResponse, Error, Context>().handler((event, context) =>
    processPartialResponse(
      event,
      (record: SQSRecord) => withCorrelationKeys(recordKeys(record), () => process(record.body)),
      processor,
      { context, throwOnFullBatchFailure: false },
    ),
  );
  return withInvocationLogger<SQSEvent, SQSBatchResponse>((event, context) => handler(event, context));
}

const BODY_IDS = ['customerId', 'scheduleId', 'jobId'] as const;

/** The message's id and the ids at the top of its body (when it is JSON); nothing else of the body. */
function recordKeys(record: SQSRecord): CorrelationKeys {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(record.body);
    if (typeof parsed === 'object' && parsed !== null) body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: process() says so; the message id still ties its lines together.
  }
  const ids = Object.fromEntries(BODY_IDS.flatMap((key) => (typeof body[key] === 'string' ? [[key, body[key]]] : [])));
  return { messageId: record.messageId, ...ids };
}
