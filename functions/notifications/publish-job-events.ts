import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import middy from '@middy/core';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { jobImagesOf } from '../../core/adapters/dynamodb/job-stream';
import { announceChanges, changesToAnnounce } from '../../core/control-plane/notifications/job-events';
import { buildJobEventPublisher } from '../../core/runtime/notifications';

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
const deps = buildJobEventPublisher();
const processor = new BatchProcessor(EventType.DynamoDBStreams);

export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse, Error, Context>().handler((event, context) => {
  let failed = false;
  const record = async (item: DynamoDBRecord) => {
    if (failed) throw new Error('not processed: an earlier record of the batch failed');
    const { before, after, jobId } = jobImagesOf(item);
    try {
      await announceChanges(deps, changesToAnnounce(before, after, deps.region));
    } catch (error) {
      failed = true;
      deps.logger.error('job events not published; the stream will retry', { jobId, error });
      throw error;
    }
  };
  return processPartialResponse(event, record, processor, { context, processInParallel: false, throwOnFullBatchFailure: false });
});
