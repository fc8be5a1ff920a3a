import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { TransferJob } from '../../domain/job';
import type { Logger } from '../../observability/logger';
import { announceChanges, changesToAnnounce } from './job-events';

export type JobStreamDeps = Parameters<typeof announceChanges>[0] & {
  region: string;
  logger: Logger;
  /** A stream record's job before and after the write (the adapter unmarshals DynamoDB's images). */
  imagesOf: (record: DynamoDBRecord) => { before?: TransferJob; after?: TransferJob; jobId?: string };
};

const processor = new BatchProcessor(EventType.DynamoDBStreams);

/**
 * The jobs table's stream (this region's replica), to EventBridge and webhooks.
 *
 * Why a stream consumer rather than publishing where the engine changes a job: every change of
 * every writer (API, state machine tasks, worker, reconciler) is in the stream, after the write
 * succeeded and only then, with no code path to forget and no event for a write that failed; and a
 * failed publication is retried by the stream (24 h), not lost with the writer's process.
 *
 * Records are processed in order, one after the other; after a failure the rest of the batch is
 * failed too, unprocessed, so Lambda retries from the first failure (ReportBatchItemFailures names
 * it) and nothing after it is published twice.
 */
export function publishJobStream(
  deps: JobStreamDeps,
  event: DynamoDBStreamEvent,
  context: Context,
): Promise<DynamoDBBatchResponse> {
  let failed = false;
  const record = async (item: DynamoDBRecord) => {
    if (failed) throw new Error('not processed: an earlier record of the batch failed');
    const { before, after, jobId } = deps.imagesOf(item);
    try {
      await announceChanges(deps, changesToAnnounce(before, after, deps.region));
    } catch (error) {
      failed = true;
      deps.logger.error('job events not published; the stream will retry', { jobId, error });
      throw error;
    }
  };
  return processPartialResponse(event, record, processor, { context, processInParallel: false, throwOnFullBatchFailure: false });
}
