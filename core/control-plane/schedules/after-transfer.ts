/**
 * After-transfer actions of scheduled pulls (DELETE, MOVE into the archive
 * folder), run by the poll (poll.ts) on files whose jobs have SUCCEEDED since:
 * on the source only once the job is verified, idempotently (a file already
 * gone counts as done), over one session per poll; the outcome is on the job
 * (JobStore.recordAfterTransfer). A failed action does not fail the delivered
 * job: it is FAILED with its error and attempts, and retried on every poll
 * until DONE.
 */
import { posix } from 'node:path';
import type { Drivers, EndpointDriver, SourceActionResult } from '../../domain/drivers';
import type { Endpoint } from '../../domain/endpoint';
import { EftError } from '../../domain/errors';
import type { TransferJob } from '../../domain/job';
import { resolveLocation } from '../../domain/locations';
import { inParallel } from '../../domain/parallel';
import type { Sighting } from '../../domain/schedule-polls';
import type { AfterTransferOutcome, Schedule } from '../../domain/triggers';
import type { Side } from '../transfers/service';

import type { PollDeps, PollOutcome } from './poll';
import { actorOf, joinPath } from './schedule-jobs';

const READ_CONCURRENCY = 16;

/** After-transfer actions run per poll (one session); the rest run at the next polls. */
export const MAX_ACTIONS_PER_POLL = 500;

export const withoutPending = ({ actionPending: _pending, ...sighting }: Sighting): Sighting => sighting;

/** A taken file that changed before its action ran: the action is given up (the new content is a new job with its own). */
export async function giveUpSuperseded(deps: PollDeps, schedule: Schedule, superseded: Sighting[], at: string): Promise<void> {
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
export async function runAfterTransferActions(
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
  for (const item of due) {
    const group = bySource.get(item.job.sourceEndpointId);
    if (group) group.push(item);
    else bySource.set(item.job.sourceEndpointId, [item]);
  }
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
    // sourceActions answers item by item, in order.
    const withResults = items.map((item, n) => ({ ...item, result: results[n] as SourceActionResult }));
    await inParallel(withResults, READ_CONCURRENCY, async ({ sighting, job, afterTransfer, result }) => {
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
