import { sqsBatchHandler } from '../../core/control-plane/queues/sqs-batch';
import { ingestS3Event } from '../../core/control-plane/routes/ingest';
import { buildRouteIngestion } from '../../core/runtime/route-ingestion';

const deps = buildRouteIngestion();

/**
 * S3EventsQueue → routes → jobs, a batch of EventBridge S3 "Object Created" events at a time. Poison events are
 * set aside on the DLQ by ingestS3Event itself and count as processed.
 */
export const handler = sqsBatchHandler((body) => ingestS3Event(deps, body));
