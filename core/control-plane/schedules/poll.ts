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
 * After-transfer actions (DELETE, MOVE) of files whose jobs SUCCEEDED since
 * the last poll run at the end of each poll: after-transfer.ts.
 */
import type { Actor } from '../../domain/actor';
import type { Clock } from '../../domain/clock';
import type { Drivers } from '../../domain/drivers';
import type { Endpoint } from '../../domain/endpoint';
import { EftError } from '../../domain/errors';
import { deterministicId } from '../../domain/ids';
import { deriveIdempotencyKey, type TransferJob } from '../../domain/job';
import type { Logger } from '../../domain/logger';
import { hasDotSegment } from '../../domain/path-segments';
import type { EndpointStore, ExecutionStarter, JobStore, ScheduleStore, SourceFile } from '../../domain/ports';
import type { PollRequest, Sighting, SightingStore } from '../../domain/schedule-polls';
import type { AfterTransferOutcome, Schedule } from '../../domain/triggers';
import { createJobsForFiles, type Side, sideOf, usableEndpoint } from '../transfers/service';
import { giveUpSuperseded, runAfterTransferActions, withoutPending } from './after-transfer';
import { actorOf, joinPath } from './schedule-jobs';

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
/** Jobs created per createJobsForFiles call: the sightings of each chunk are written before the next, so a retry redoes little. */
const JOB_CHUNK = 1_000;
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
