/**
 * One poll of a schedule (functions/schedules/poll.ts, one SQS message per
 * claimed run): list the partner folder, take the files that are new and
 * stable, create their jobs, and run the after-transfer actions of files whose
 * jobs have SUCCEEDED since.
 *
 * Stability, per file version (size and modification time), from the
 * sightings the polls keep (SightingStore):
 * - a version seen by an EARLIER poll (at least `stableAfterMs` ago) and
 *   unchanged now is stable: taken;
 * - a version older than the schedule's minimumFileAgeSeconds (if > 0) is taken
 *   at the first poll that sees it;
 * - anything else is recorded and looked at again next poll, so a file still
 *   growing (its size or mtime moves between polls) is never taken half-done.
 * A version taken has its job on its sighting and is never taken again while
 * unchanged (whatever became of the job or its after-transfer action); a
 * changed file (new size or mtime) is a new version, so a new job. Job keys
 * are deterministic in schedule, path, size, mtime and target: a poll retried
 * by SQS, or run twice, finds the same jobs instead of making new ones.
 *
 * Bursts: at most MAX_NEW_FILES_PER_POLL files are taken per poll (oldest
 * first); the rest stay sighted and are taken by the next polls. The jobs go
 * through createJobsForFiles, so small files are batched into shared worker
 * executions as for POST /transfers; the polls themselves are buffered by the
 * schedule polls queue.
 *
 * After-transfer actions (DELETE, MOVE into the archive folder): run on the
 * source only once the job is SUCCEEDED (verified), idempotently (a file
 * already gone counts as done), over one session per poll; the outcome is on
 * the job (JobStore.recordAfterTransfer). A failed action does not fail the
 * delivered job: it is FAILED with its error and attempts, and retried on every
 * poll until DONE. A job that FAILED or was CANCELLED leaves the file where it
 * is; the customer re-drives the job (POST /jobs/{id}/redrive), and the file is
 * not taken again by the schedule while it is unchanged.
 */
import { posix } from 'node:path';
import type { Actor } from '../../domain/actor';
import type { Clock } from '../../domain/clock';
import type { Drivers, EndpointDriver, SourceActionResult } from '../../domain/drivers';
import type { Endpoint } from '../../domain/endpoint';
import { EftError } from '../../domain/errors';
import { deterministicId } from '../../domain/ids';
import { deriveIdempotencyKey, type TransferJob } from '../../domain/job';
import { resolveLocation } from '../../domain/locations';
import type { Logger } from '../../domain/logger';
import { inParallel } from '../../domain/parallel';
import { hasDotSegment } from '../../domain/path-segments';
import type { EndpointStore, ExecutionStarter, JobStore, ScheduleStore, SourceFile } from '../../domain/ports';
import type { PollRequest, Sighting, SightingStore } from '../../domain/schedule-polls';
import type { AfterTransferOutcome, Schedule } from '../../domain/triggers';
import { createJobsForFiles, type Side, sideOf, usableEndpoint } from '../transfers/service';

export interface PollDeps {
  schedules: Pick<ScheduleStore, 'get'>;
  endpoints: EndpointStore;
  jobs: JobStore;
  drivers: Drivers;
  executions: ExecutionStarter;
  sightings: SightingStore;
  clock: Clock;
  region: string;
  log: Logger;
  /** A version first seen less than this long ago is not proven stable by a second look (a redelivered or crowded poll). */
  stableAfterMs: number;
}

/** New files taken per poll; the rest are taken by the next polls. */
export const MAX_NEW_FILES_PER_POLL = 10_000;
/** Files listed per poll (taken or not): a folder holding more is listed in part, and no sighting is dropped for absence. */
export const MAX_LISTED_FILES = 100_000;
/** After-transfer actions run per poll (one session); the rest run at the next polls. */
export const MAX_ACTIONS_PER_POLL = 500;
/** Jobs created per createJobsForFiles call: the sightings of each chunk are written before the next, so a retry redoes little. */
const JOB_CHUNK = 1_000;
const READ_CONCURRENCY = 16;
/** Sightings are forgotten 90 days after they were last written (the TTL), refreshed once half of that is gone. */
const SIGHTING_TTL_S = 90 * 24 * 3600;

export interface PollOutcome {
  /** Why nothing was done (the schedule was deleted or disabled, an endpoint cannot be used). */
  skipped?: string;
  listed: number;
  /** Files taken (jobs created or found) by this poll. */
  taken: TransferJob[];
  /** Files seen but not (yet) stable, or beyond this poll's maximum. */
  waiting: number;
  actions: { done: number; failed: number; waiting: number };
}

const actorOf = (schedule: Pick<Schedule, 'scheduleId'>) => `schedule:${schedule.scheduleId}`;

export async function pollSchedule(deps: PollDeps, request: PollRequest): Promise<PollOutcome> {
  const outcome: PollOutcome = { listed: 0, taken: [], waiting: 0, actions: { done: 0, failed: 0, waiting: 0 } };
  const log = deps.log;
  const schedule = await deps.schedules.get(request.customerId, request.scheduleId);
  if (!schedule) return { ...outcome, skipped: 'the schedule was deleted' };
  if (!schedule.enabled) return { ...outcome, skipped: 'the schedule is disabled' };
  const actor: Actor = { customerId: schedule.customerId, principalArn: actorOf(schedule) };

  const from = await usable(log, schedule, () => {
    return usableEndpoint(deps, actor, schedule.source.endpointId, 'source').then((endpoint) =>
      folderSide(deps.drivers, endpoint, schedule.source.path, 'source.path'),
    );
  });
  if (!from) return { ...outcome, skipped: 'the source endpoint cannot be used' };

  const [listed, sightings] = await Promise.all([
    // A partner that cannot be reached (down, refusing, busy) is the customer's matter, not the engine's: the
    // poll is skipped with a log line and the next run polls again (no SQS retries, no dead letter, no alarm).
    usable(log, schedule, () =>
      from.driver.list(from.endpoint, from.location, schedule.source.path, schedule.source.pattern, MAX_LISTED_FILES),
    ),
    deps.sightings.list(schedule.scheduleId),
  ]);
  if (!listed) return { ...outcome, skipped: 'the partner folder could not be listed' };
  outcome.listed = listed.length;
  const now = deps.clock.now();
  const nowIso = new Date(now).toISOString();
  const expiresAt = Math.floor(now / 1000) + SIGHTING_TTL_S;
  const seen = new Map(sightings.map((s) => [s.path, s]));
  const writes = new Map<string, Sighting>();
  const toTake: { file: SourceFile; sighting: Sighting }[] = [];
  /** Taken versions whose action had not run when the file changed: the action must not touch the new content. */
  const superseded: Sighting[] = [];
  let unusableNames = 0;

  for (const file of listed) {
    // A name that would climb out of the target folder (`..\x` on a Windows server) is never taken.
    if (hasDotSegment(file.name)) {
      unusableNames++;
      continue;
    }
    const sighting = seen.get(file.path);
    const unchanged = sighting !== undefined && sighting.size === file.size && sighting.modifiedAt === file.modifiedAt;
    if (sighting && unchanged) {
      if (sighting.jobId) {
        if (sighting.expiresAt - now / 1000 < SIGHTING_TTL_S / 2) writes.set(file.path, { ...sighting, expiresAt });
      } else if (sighting.firstSeenBy !== request.pollId && now - Date.parse(sighting.firstSeenAt) >= deps.stableAfterMs) {
        toTake.push({ file, sighting: { ...sighting, expiresAt } });
      } else {
        outcome.waiting++;
      }
      continue;
    }
    if (sighting?.jobId && sighting.actionPending) superseded.push(sighting);
    const fresh: Sighting = {
      path: file.path,
      size: file.size,
      ...(file.modifiedAt !== undefined ? { modifiedAt: file.modifiedAt } : {}),
      firstSeenAt: nowIso,
      firstSeenBy: request.pollId,
      expiresAt,
    };
    writes.set(file.path, fresh);
    const minimumAgeMs = schedule.minimumFileAgeSeconds * 1000;
    if (minimumAgeMs > 0 && file.modifiedAt !== undefined && now - file.modifiedAt >= minimumAgeMs) {
      toTake.push({ file, sighting: fresh });
    } else {
      outcome.waiting++;
    }
  }
  if (unusableNames) log.warn('files whose names are . or .. segments are not taken', { count: unusableNames });

  // Sightings of files no longer there are forgotten (unless an action is still to run: it finds the file ABSENT, done).
  const listedPaths = new Set(listed.map((f) => f.path));
  const removals =
    listed.length < MAX_LISTED_FILES
      ? sightings.filter((s) => !listedPaths.has(s.path) && !(s.jobId && s.actionPending)).map((s) => s.path)
      : [];

  const supersededPaths = new Set(superseded.map((s) => s.path));
  const pending = sightings.filter((s) => s.jobId && s.actionPending && !supersededPaths.has(s.path));
  await giveUpSuperseded(deps, schedule, superseded, nowIso);
  for (const update of await runAfterTransferActions(deps, schedule, from, pending, outcome, nowIso)) {
    // The action ended: its flag goes, also from a write this poll had planned already (a TTL refresh).
    writes.set(update.path, withoutPending(writes.get(update.path) ?? update));
  }

  // Flush what this poll learnt before creating jobs: a crash from here on loses no sighting.
  const taking = new Set(toTake.map((t) => t.file.path));
  const notTaken = [...writes.values()].filter((s) => !taking.has(s.path));
  await deps.sightings.putMany(schedule.scheduleId, notTaken);
  await deps.sightings.removeMany(schedule.scheduleId, removals);

  if (toTake.length > 0) {
    toTake.sort((a, b) => (a.file.modifiedAt ?? 0) - (b.file.modifiedAt ?? 0) || a.file.path.localeCompare(b.file.path));
    const first = toTake.slice(0, MAX_NEW_FILES_PER_POLL);
    const later = toTake.slice(MAX_NEW_FILES_PER_POLL);
    outcome.waiting += later.length;
    await deps.sightings.putMany(
      schedule.scheduleId,
      later.map((t) => t.sighting),
    );
    outcome.taken = await take(deps, schedule, actor, from, request, first);
  }
  log.info('schedule polled', {
    scheduleId: schedule.scheduleId,
    pollId: request.pollId,
    listed: outcome.listed,
    taken: outcome.taken.length,
    waiting: outcome.waiting,
    actions: outcome.actions,
  });
  return outcome;
}

/**
 * An endpoint the customer broke (deleted, deactivated, wrong direction) or a partner that cannot be reached skips
 * the poll with a log line (engine errors: EftError); anything else (DynamoDB throttling, a defect) is thrown, so SQS
 * delivers the poll again.
 */
async function usable<T>(log: Logger, schedule: Schedule, get: () => Promise<T>): Promise<T | undefined> {
  try {
    return await get();
  } catch (error) {
    if (!(error instanceof EftError)) throw error;
    log.warn('schedule poll skipped: an endpoint cannot be used or reached', {
      scheduleId: schedule.scheduleId,
      customerId: schedule.customerId,
      code: error.code,
      reason: error.message,
    });
    return undefined;
  }
}

/** The side of a folder ("" is the endpoint's base path or prefix itself). */
function folderSide(drivers: Drivers, endpoint: Endpoint, path: string, field: string): Side {
  const folder = path.replace(/^\/+|\/+$/g, '');
  if (folder === '') {
    const driver = drivers.driverFor(endpoint);
    return { endpoint, driver, location: driver.resolve(endpoint, '') };
  }
  return sideOf(drivers, endpoint, folder, field);
}

const joinPath = (folder: string, name: string) => {
  const base = folder.replace(/^\/+|\/+$/g, '');
  return base ? `${base}/${name}` : name;
};

/** Creates (or finds) the jobs of the files taken, and writes their sightings with the job ids, a chunk at a time. */
async function take(
  deps: PollDeps,
  schedule: Schedule,
  actor: Actor,
  from: Side,
  request: PollRequest,
  files: { file: SourceFile; sighting: Sighting }[],
): Promise<TransferJob[]> {
  const to = await usable(deps.log, schedule, () =>
    usableEndpoint(deps, actor, schedule.target.endpointId, 'target').then((endpoint) =>
      folderSide(deps.drivers, endpoint, schedule.target.path, 'target.path'),
    ),
  );
  if (!to) {
    // Their sightings stay as they were: the files are taken once the target can be used again.
    await deps.sightings.putMany(
      schedule.scheduleId,
      files.map((f) => f.sighting),
    );
    return [];
  }
  const action = schedule.afterTransfer;
  const afterTransfer: AfterTransferOutcome | undefined =
    action.action === 'LEAVE'
      ? undefined
      : {
          action: action.action,
          ...(action.action === 'MOVE' ? { archivePath: action.archivePath } : {}),
          status: 'PENDING',
          attempts: 0,
        };
  const taken: TransferJob[] = [];
  for (let i = 0; i < files.length; i += JOB_CHUNK) {
    const chunk = files.slice(i, i + JOB_CHUNK);
    const results = await createJobsForFiles(deps, {
      actor: actorOf(schedule),
      source: from,
      target: to,
      requestId: deterministicId('req', schedule.customerId, 'schedule', request.pollId),
      trigger: { kind: 'SCHEDULE', scheduleId: schedule.scheduleId, pollId: request.pollId },
      createDirectories: schedule.target.createDirectories,
      ...(afterTransfer ? { afterTransfer } : {}),
      deliveries: chunk.map(({ file }) => {
        const targetPath = joinPath(schedule.target.path, file.name);
        return {
          file,
          targetPath,
          idempotencyKey: deterministicId(
            'sched',
            schedule.scheduleId,
            deriveIdempotencyKey({
              sourceEndpointId: from.endpoint.endpointId,
              sourcePath: file.path,
              targetEndpointId: to.endpoint.endpointId,
              targetPath,
              file: { size: file.size, modifiedAt: file.modifiedAt },
            }),
          ),
        };
      }),
    });
    await deps.sightings.putMany(
      schedule.scheduleId,
      results.map(({ job }, n) => {
        const { sighting } = chunk[n] as { sighting: Sighting };
        const pending = job.afterTransfer !== undefined && job.afterTransfer.status !== 'DONE';
        return { ...sighting, jobId: job.jobId, ...(pending ? { actionPending: true } : {}) };
      }),
    );
    taken.push(...results.map((r) => r.job));
  }
  return taken;
}

const withoutPending = ({ actionPending: _pending, ...sighting }: Sighting): Sighting => sighting;

/** A taken file that changed before its action ran: the action is given up (the new content is a new job with its own). */
async function giveUpSuperseded(deps: PollDeps, schedule: Schedule, superseded: Sighting[], at: string): Promise<void> {
  await inParallel(superseded, READ_CONCURRENCY, async (sighting) => {
    try {
      const key = { customerId: schedule.customerId, jobId: sighting.jobId as string };
      const job = await deps.jobs.get(key);
      if (!job?.afterTransfer || job.afterTransfer.status === 'DONE') return;
      await deps.jobs.recordAfterTransfer(
        key,
        {
          ...job.afterTransfer,
          status: 'FAILED',
          at,
          lastError: {
            code: 'SOURCE_CHANGED',
            message: `${sighting.path} changed at the source before the action ran; it was left there (its new content is a new job)`,
          },
        },
        actorOf(schedule),
      );
    } catch (error) {
      deps.log.error('could not record a given-up after-transfer action', { jobId: sighting.jobId, error });
    }
  });
}

/**
 * The after-transfer actions of files whose jobs have SUCCEEDED since: run on the source, outcome on the job.
 * Returns the sightings to rewrite (their action ended: DONE, or the job will never succeed).
 */
async function runAfterTransferActions(
  deps: PollDeps,
  schedule: Schedule,
  from: Side,
  pending: Sighting[],
  outcome: PollOutcome,
  at: string,
): Promise<Sighting[]> {
  const updates: Sighting[] = [];
  const batch = pending.slice(0, MAX_ACTIONS_PER_POLL);
  outcome.actions.waiting += pending.length - batch.length;
  const jobs = await inParallel(batch, READ_CONCURRENCY, (s) =>
    deps.jobs.get({ customerId: schedule.customerId, jobId: s.jobId as string }),
  );
  const due: { sighting: Sighting; job: TransferJob; afterTransfer: AfterTransferOutcome }[] = [];
  batch.forEach((sighting, n) => {
    const job = jobs[n];
    if (!job?.afterTransfer || job.afterTransfer.status === 'DONE') {
      updates.push(withoutPending(sighting));
    } else if (job.status === 'FAILED' || job.status === 'CANCELLED') {
      // The file stays at the source; re-driving the job delivers it (and the schedule does not take it again).
      deps.log.info('after-transfer action not run: the job did not succeed', { jobId: job.jobId, status: job.status });
      updates.push(withoutPending(sighting));
    } else if (job.status === 'SUCCEEDED') {
      due.push({ sighting, job, afterTransfer: job.afterTransfer });
    } else {
      outcome.actions.waiting++;
    }
  });
  if (due.length === 0) return updates;

  // The job's own source endpoint (the schedule's, unless the schedule was changed since).
  const bySource = new Map<string, typeof due>();
  for (const item of due) bySource.set(item.job.sourceEndpointId, [...(bySource.get(item.job.sourceEndpointId) ?? []), item]);
  for (const [endpointId, items] of bySource) {
    const endpoint =
      endpointId === from.endpoint.endpointId ? from.endpoint : await deps.endpoints.get(schedule.customerId, endpointId);
    const results = endpoint
      ? await sourceActions(deps.drivers, endpoint, items)
      : items.map(
          (): SourceActionResult => ({
            outcome: 'FAILED',
            code: 'ENDPOINT_MISSING',
            message: `endpoint ${endpointId} was deleted`,
          }),
        );
    await inParallel(items, READ_CONCURRENCY, async ({ sighting, job, afterTransfer }) => {
      const result = results[items.findIndex((i) => i.job.jobId === job.jobId)] as SourceActionResult;
      const done = result.outcome !== 'FAILED';
      const { lastError: _previous, ...rest } = afterTransfer;
      const recorded: AfterTransferOutcome = {
        ...rest,
        status: done ? 'DONE' : 'FAILED',
        attempts: afterTransfer.attempts + 1,
        at,
        ...(result.outcome === 'FAILED' ? { lastError: { code: result.code, message: result.message } } : {}),
      };
      try {
        await deps.jobs.recordAfterTransfer(job, recorded, actorOf(schedule));
      } catch (error) {
        deps.log.error('could not record an after-transfer outcome; it runs again next poll', { jobId: job.jobId, error });
        return;
      }
      if (done) {
        outcome.actions.done++;
        updates.push(withoutPending(sighting));
      } else {
        outcome.actions.failed++;
        deps.log.warn('after-transfer action failed; retried next poll', {
          jobId: job.jobId,
          action: afterTransfer.action,
          code: recorded.lastError?.code,
          attempts: recorded.attempts,
        });
      }
    });
  }
  return updates;
}

/** Runs the actions of one source endpoint's files, DELETE and MOVE each over one session; per file, in order. */
async function sourceActions(
  drivers: Drivers,
  endpoint: Endpoint,
  items: { sighting: Sighting; job: TransferJob; afterTransfer: AfterTransferOutcome }[],
): Promise<SourceActionResult[]> {
  const results: SourceActionResult[] = new Array(items.length);
  let driver: EndpointDriver;
  try {
    driver = drivers.driverFor(endpoint);
  } catch (error) {
    return items.map(() => failure(error));
  }
  const deletes = items.flatMap((item, n) => (item.afterTransfer.action === 'DELETE' ? [n] : []));
  const moves = items.flatMap((item, n) => (item.afterTransfer.action === 'MOVE' ? [n] : []));
  const settle = async (indexes: number[], run: () => Promise<SourceActionResult[]>) => {
    if (indexes.length === 0) return;
    let answers: SourceActionResult[];
    try {
      answers = await run();
    } catch (error) {
      answers = indexes.map(() => failure(error));
    }
    indexes.forEach((index, n) => {
      results[index] = answers[n] ?? failure(new Error('no answer'));
    });
  };
  const unsupported = async (): Promise<SourceActionResult[]> => {
    throw new Error(`endpoints of kind ${driver.kind} cannot be a schedule's source`);
  };
  await settle(deletes, () =>
    driver.removeFiles
      ? driver.removeFiles(
          endpoint,
          deletes.map((n) => resolveLocation(drivers, endpoint, (items[n] as (typeof items)[number]).job.sourcePath)),
        )
      : unsupported(),
  );
  await settle(moves, () =>
    driver.moveFiles
      ? driver.moveFiles(
          endpoint,
          moves.map((n) => {
            const { job, sighting, afterTransfer } = items[n] as (typeof items)[number];
            const name = posix.basename(job.sourcePath);
            const archive = afterTransfer.archivePath ?? '';
            return {
              from: resolveLocation(drivers, endpoint, job.sourcePath),
              to: archiveLocation(drivers, endpoint, joinPath(archive, name)),
              otherwise: archiveLocation(drivers, endpoint, joinPath(archive, `${name}.${versionSuffix(sighting, job)}`)),
            };
          }),
          { createDirectories: true },
        )
      : unsupported(),
  );
  return results;
}

function archiveLocation(drivers: Drivers, endpoint: Endpoint, path: string) {
  return resolveLocation(drivers, endpoint, path, 'afterTransfer.archivePath');
}

/** How an archived file is told from an earlier one of the same name: its modification time (UTC), else its job. */
function versionSuffix(sighting: Sighting, job: TransferJob): string {
  if (sighting.modifiedAt === undefined) return job.jobId;
  return new Date(sighting.modifiedAt)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function failure(error: unknown): SourceActionResult {
  if (error instanceof EftError) return { outcome: 'FAILED', code: error.code, message: error.message };
  return { outcome: 'FAILED', code: 'CONNECTION_FAILED', message: error instanceof Error ? error.message : String(error) };
}
