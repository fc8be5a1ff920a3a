import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ingestS3Event } from '../../core/control-plane/routes/ingest';
import { buildRouteIngestion } from '../../core/runtime/route-ingestion';

const deps = buildRouteIngestion();
const processor = new BatchProcessor(EventType.SQS);

/**
 * S3EventsQueue → routes → jobs. Each record is one EventBridge S3 "Object
 * Created" event; the records of a batch are processed concurrently, and only
 * those that threw (throttling, a timeout: worth a redelivery) are reported in
 * batchItemFailures, so SQS redelivers just them. Poison events are set aside on
 * the DLQ by ingestS3Event itself and count as processed.
 */
export const handler = (event: SQSEvent): Promise<SQSBatchResponse> =>
  processPartialResponse(event, (record: SQSRecord) => ingestS3Event(deps, record.body), processor, {
    // A batch that failed entirely is reported record by record too, not thrown: the same redelivery, and no error
    // counted against the function for what is a throttled dependency.
    throwOnFullBatchFailure: false,
  });
