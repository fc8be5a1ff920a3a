/**
 * Route ingestion (issue 14, push): an S3 "Object Created" event, forwarded by
 * the customer's EventBridge rule to the engine's ingest bus and buffered by
 * S3EventsQueue, becomes one job per route it matches, created through the
 * same service as POST /transfers (createJobsForFiles).
 *
 * What happens to an event, and why:
 * - Malformed (not JSON, not an S3 Object Created event) → DEAD-LETTERED
 *   (MALFORMED_EVENT): no retry can make it readable, and the engine's own
 *   rule only forwards Object Created events, so one is a bug or an attack an
 *   operator should see.
 * - For a bucket no route names (the routes were deleted while the
 *   customer's forwarding rule still sends) → DEAD-LETTERED
 *   (NO_ROUTE_FOR_BUCKET): the customer should remove the rule or add a
 *   route, and the DLQ's depth alarm tells the operator so.
 * - Every route of the bucket disabled, the key matching no route (another
 *   folder, a sub-folder, the pattern), the account not the bucket's owner
 *   (a forged event), a route's endpoint no longer usable (not ACTIVE, deleted,
 *   a direction that no longer allows it) → DROPPED with a log line. These are
 *   the customer's own settings doing their job: a bucket with a route on one
 *   folder sends the events of every key, and a disabled route or a paused
 *   endpoint is meant to start nothing. Sending them to the DLQ would bury the
 *   poison events its alarm is for.
 * - Older than an event already seen for the same key (sequencer) → DROPPED
 *   (STALE_EVENT): re-ordered delivery of a version that has been replaced.
 * - Anything thrown (DynamoDB or Step Functions throttling, a timeout) is not
 *   caught here: the handler reports the record as failed, SQS delivers it
 *   again after the visibility timeout, and after 5 receives the queue's
 *   redrive policy moves it to the DLQ (without a reason attribute).
 *
 * Idempotency. Each job's key is deriveIdempotencyKey(source endpoint, key's
 * path, target endpoint, target path, {size, version: versionId ?? ETag}), so
 * the same object version (the same event delivered three times, replayed
 * from the DLQ, or delivered to both regions' buses) maps onto one job, and a
 * new version (a new version id, or in an unversioned bucket a new ETag) is a
 * new job. Re-ordering: per key, the highest sequencer seen is kept
 * (ObjectEventMarks, a conditional update); an event with a lower one is
 * dropped, an equal one (a duplicate, or a redelivery after a crash between
 * the mark and the job) goes on to the idempotent create.
 *
 * A new version while an older version's job is still queued: both jobs exist
 * (different keys). A job names the object's key, not its version, and reads
 * whatever the key holds when it runs: if the older job runs after the new
 * version was written it delivers the new content, and the newer job then
 * finds that content at the target and succeeds without a second delivery
 * (alreadyPresent). If the older job already delivered the old content, the
 * newer job meets other content at the target path and fails TARGET_EXISTS
 * (the engine never replaces a file); the failure is visible on the job. An
 * older version whose event arrives only after the newer one's is dropped as
 * stale, so the target never ends with the older content because of order.
 */

import type { Drivers } from '../../domain/drivers';
import type { Endpoint } from '../../domain/endpoint';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import { deterministicId } from '../../domain/ids';
import type { Logger } from '../../domain/logger';
import { bothInOrder } from '../../domain/parallel';
import type { DeadLetters, EndpointStore, ObjectEventMarks, RouteStore } from '../../domain/ports';
import type { Route } from '../../domain/triggers';
import { createJobsForFiles, type Side, sideOf, type TransferDeps, usableEndpoint } from '../transfers/service';
import { type ObjectCreated, parseObjectCreated } from './ingest-event';
import { joinFolder, keyOf, matchRoute, type NoMatchReason } from './ingest-match';

export interface RouteIngestionDeps extends Pick<TransferDeps, 'jobs' | 'executions' | 'region'> {
  routes: Pick<RouteStore, 'routesForBucket'>;
  endpoints: EndpointStore;
  drivers: Drivers;
  marks: ObjectEventMarks;
  deadLetters: DeadLetters;
  logger: Logger;
}

/** The `reason` attribute of a message the handler sets aside on the DLQ. */
export const DEAD_LETTER_REASONS = {
  MALFORMED_EVENT: 'not an S3 Object Created event (not JSON, or a field missing or invalid)',
  NO_ROUTE_FOR_BUCKET: 'no route of any customer names the bucket (deleted routes, or a forwarding rule left behind)',
} as const;
export type DeadLetterReason = keyof typeof DEAD_LETTER_REASONS;

/** Why an event, or one route's part of it, started nothing. */
export type DropReason =
  | 'ROUTES_DISABLED'
  | 'NO_MATCHING_ROUTE'
  | 'STALE_EVENT'
  /** A matching route whose source or target endpoint is no longer usable (not ACTIVE, deleted, wrong direction). */
  | 'ENDPOINT_NOT_USABLE'
  /** A matching route whose paths the endpoints refuse (a key with a `..` segment, say). */
  | 'INVALID_PATH'
  /** A matching route that would deliver into the folder it watches: every delivery would start another job. */
  | 'ROUTE_LOOP';

export interface RouteDelivery {
  routeId: string;
  jobId: string;
  created: boolean;
}

export type IngestOutcome =
  | { outcome: 'DEAD_LETTERED'; reason: DeadLetterReason }
  | { outcome: 'DROPPED'; reason: DropReason }
  /** At least one route matched; `jobs` has one entry per route that created (or found) its job. */
  | { outcome: 'DELIVERED'; jobs: RouteDelivery[]; skipped: { routeId: string; reason: DropReason }[] };

/** The actor recorded on a route's jobs (their first transitions and the audit trail). */
export function routeActor(routeId: string): string {
  return `route:${routeId}`;
}

/**
 * One S3EventsQueue message (an EventBridge event's JSON). Returns what was
 * done; throws only what is worth a redelivery.
 */
export async function ingestS3Event(deps: RouteIngestionDeps, body: string): Promise<IngestOutcome> {
  const parsed = parseObjectCreated(body);
  if (!parsed.ok) return deadLetter(deps, body, 'MALFORMED_EVENT', parsed.detail);
  const event = parsed.event;
  const log = (message: string, fields: Record<string, unknown> = {}) =>
    deps.logger.info(message, { eventId: event.eventId, bucket: event.bucket, key: event.key, ...fields });

  const routes = await deps.routes.routesForBucket(event.bucket);
  if (routes.length === 0) {
    return deadLetter(deps, body, 'NO_ROUTE_FOR_BUCKET', `bucket ${event.bucket} (event ${event.eventId})`);
  }
  const enabled = routes.filter((route) => route.enabled);
  if (enabled.length === 0) {
    log('S3 event dropped: every route of the bucket is disabled', { reason: 'ROUTES_DISABLED' });
    return { outcome: 'DROPPED', reason: 'ROUTES_DISABLED' };
  }

  const endpoints = onceEach(deps.endpoints);
  const matches: { route: Route; sourcePath: string; relativePath: string; name: string }[] = [];
  const misses: { routeId: string; reason: NoMatchReason }[] = [];
  for (const route of enabled) {
    const match = matchRoute(route, await endpoints.get(route.customerId, route.source.endpointId), event);
    if (match.matched) matches.push({ route, ...match });
    else misses.push({ routeId: route.routeId, reason: match.reason });
  }
  if (misses.some((miss) => miss.reason === 'OWNER_MISMATCH')) {
    deps.logger.warn('S3 event from an account that does not own the bucket: ignored by the routes that name it', {
      eventId: event.eventId,
      bucket: event.bucket,
      account: event.account,
      routes: misses.filter((miss) => miss.reason === 'OWNER_MISMATCH').map((miss) => miss.routeId),
    });
  }
  if (matches.length === 0) {
    log('S3 event dropped: the key matches no enabled route', { reason: 'NO_MATCHING_ROUTE', routes: misses });
    return { outcome: 'DROPPED', reason: 'NO_MATCHING_ROUTE' };
  }

  const mark = await deps.marks.advance(event.bucket, event.key, event.sequencer);
  if (mark === 'stale') {
    log('S3 event dropped: a later event of the same key was already seen', {
      reason: 'STALE_EVENT',
      sequencer: event.sequencer,
    });
    return { outcome: 'DROPPED', reason: 'STALE_EVENT' };
  }

  const jobs: RouteDelivery[] = [];
  const skipped: { routeId: string; reason: DropReason }[] = [];
  for (const match of matches) {
    const delivered = await deliver({ ...deps, endpoints }, event, match);
    if ('reason' in delivered) {
      log(`S3 event not delivered by route ${match.route.routeId}: ${delivered.message}`, {
        routeId: match.route.routeId,
        reason: delivered.reason,
      });
      skipped.push({ routeId: match.route.routeId, reason: delivered.reason });
    } else {
      jobs.push(delivered);
      log(delivered.created ? 'S3 event created a job' : 'S3 event found its job already created', {
        routeId: match.route.routeId,
        jobId: delivered.jobId,
      });
    }
  }
  if (jobs.length === 0) {
    // Every matching route refused (an endpoint paused, say): the first reason stands for the event.
    return { outcome: 'DROPPED', reason: skipped[0]?.reason ?? 'NO_MATCHING_ROUTE' };
  }
  return { outcome: 'DELIVERED', jobs, skipped };
}

async function deadLetter(
  deps: RouteIngestionDeps,
  body: string,
  reason: DeadLetterReason,
  detail: string,
): Promise<IngestOutcome> {
  await deps.deadLetters.send({ body, reason, detail: `${DEAD_LETTER_REASONS[reason]}: ${detail}`.slice(0, 1024) });
  deps.logger.warn('S3 event set aside on the dead-letter queue', { reason, detail });
  return { outcome: 'DEAD_LETTERED', reason };
}

/** The object's job for one route, or why the route cannot deliver it. */
async function deliver(
  deps: RouteIngestionDeps,
  event: ObjectCreated,
  match: { route: Route; sourcePath: string; relativePath: string; name: string },
): Promise<RouteDelivery | { reason: DropReason; message: string }> {
  const { route } = match;
  const actor = { customerId: route.customerId, principalArn: routeActor(route.routeId) };
  let source: Side;
  let target: Side;
  const targetPath = joinFolder(route.target.path, match.relativePath);
  try {
    const [sourceEndpoint, targetEndpoint] = await bothInOrder(
      usableEndpoint(deps, actor, route.source.endpointId, 'source'),
      usableEndpoint(deps, actor, route.target.endpointId, 'target'),
    );
    source = sideOf(deps.drivers, sourceEndpoint, match.sourcePath, 'source.path');
    target = sideOf(deps.drivers, targetEndpoint, targetPath, 'target.path');
  } catch (error) {
    if (error instanceof ValidationError && error.issues.some((issue) => issue.field.endsWith('.path'))) {
      return { reason: 'INVALID_PATH', message: error.message };
    }
    if (error instanceof NotFoundError || error instanceof ConflictError || error instanceof ValidationError) {
      return { reason: 'ENDPOINT_NOT_USABLE', message: error.message };
    }
    throw error;
  }
  if (deliversIntoItself(route, source.endpoint, target.endpoint, targetPath, event)) {
    return { reason: 'ROUTE_LOOP', message: `its target ${targetPath} is in the folder it watches` };
  }

  const version = event.versionId ?? event.etag;
  const [result] = await createJobsForFiles(deps, {
    actor: actor.principalArn,
    source,
    target,
    requestId: deterministicId('req', route.routeId, event.bucket, event.key, version),
    deliveries: [{ file: { path: match.sourcePath, name: match.name, size: event.size, version }, targetPath }],
    trigger: { kind: 'ROUTE', routeId: route.routeId, eventId: event.eventId },
    createDirectories: route.target.createDirectories,
  });
  if (!result) throw new Error('createJobsForFiles returned no job for one delivery');
  return { routeId: route.routeId, jobId: result.job.jobId, created: result.created };
}

/** Whether the delivered object would itself be an event this route matches. */
function deliversIntoItself(route: Route, source: Endpoint, target: Endpoint, targetPath: string, event: ObjectCreated): boolean {
  const delivered = keyOf(target, targetPath);
  if (!delivered || delivered.bucket !== event.bucket) return false;
  return matchRoute(route, source, { account: event.account, ...delivered }).matched;
}

/** Each endpoint read once per event, however many routes name it (and again by usableEndpoint). */
function onceEach(store: EndpointStore): EndpointStore {
  const reads = new Map<string, Promise<Endpoint | undefined>>();
  return {
    create: (endpoint, actor) => store.create(endpoint, actor),
    list: (customerId, page) => store.list(customerId, page),
    update: (...args) => store.update(...args),
    get(customerId, endpointId) {
      const id = `${customerId}\u0000${endpointId}`;
      let read = reads.get(id);
      if (!read) {
        read = store.get(customerId, endpointId);
        reads.set(id, read);
      }
      return read;
    },
    getPair(customerId, firstId, secondId) {
      return Promise.all([this.get(customerId, firstId), this.get(customerId, secondId)]);
    },
  };
}
