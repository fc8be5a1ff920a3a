import { requireEnv } from '../adapters/config';
import { createSqsClient } from '../adapters/sqs/client';
import { SqsDeadLetters } from '../adapters/sqs/dead-letters';
import type { RouteIngestionDeps } from '../control-plane/routes/ingest';
import { childLogger, logger } from '../observability/logger';
import { buildJobCreation, buildStores } from './wiring';

/**
 * What ingestS3Events (functions/routes/ingest.ts) needs, built once per
 * container: the stores, the drivers (to resolve the routes' paths), the
 * starter of the transfer state machine, the sequencer marks in the
 * trigger-state table, and the S3 events' DLQ (S3_EVENTS_DEAD_LETTER_QUEUE_URL)
 * for the events it sets aside itself.
 */
export function buildRouteIngestion(env: NodeJS.ProcessEnv = process.env): RouteIngestionDeps {
  const stores = buildStores(env);
  return {
    ...buildJobCreation(env, stores),
    routes: stores.routes,
    marks: stores.objectEventMarks,
    deadLetters: new SqsDeadLetters(createSqsClient(env), requireEnv('S3_EVENTS_DEAD_LETTER_QUEUE_URL', env)),
    logger: childLogger(logger, { function: 'ingestS3Events' }),
  };
}
