/**
 * The customer's way out of a job whose execution is gone (issue 15): a RUNNING or VERIFYING job
 * whose partition lease is neither live nor held by anyone can be cancelled, or ended for a
 * re-drive, through the API. The reconciler resumes such jobs by itself; this is for the customer
 * who would rather stop or restart one than wait.
 *
 * The API takes the partition lease before it writes: a new epoch, so whatever is left of the old
 * holder (a worker still running in a region that lost its lease) can write nothing to the job
 * afterwards. A job whose partition an execution holds is running: 409 JOB_IN_PROGRESS.
 */

import type { Clock } from '../../domain/clock';
import { ConflictError, LeaseHeldError } from '../../domain/errors';
import type { JobStatus, TransferJob } from '../../domain/job';
import { type LeaseToken, tokenOf } from '../../domain/lease';
import type { JobStore, LeaseStore } from '../../domain/ports';

export interface OrphanDeps {
  jobs: JobStore;
  leases: LeaseStore;
  clock: Clock;
  region: string;
  leaseTtlMs: number;
}

const STARTED: readonly JobStatus[] = ['RUNNING', 'VERIFYING'];

export function isStarted(job: TransferJob): boolean {
  return STARTED.includes(job.status);
}

/** Ends a started job whose execution is gone as CANCELLED, or FAILED with EXECUTION_LOST, under its lease. */
export async function endOrphan(
  deps: OrphanDeps,
  job: TransferJob,
  end: { status: 'CANCELLED' | 'FAILED'; actor: string },
): Promise<TransferJob> {
  const fence = await takeIdleLease(deps, job, end.actor);
  try {
    return await deps.jobs.transition(job, end.status, {
      actor: end.actor,
      region: deps.region,
      fence,
      ...(end.status === 'FAILED'
        ? {
            errorCode: 'EXECUTION_LOST',
            errorMessage: `the execution running job ${job.jobId} is gone; it was ended so that it could be re-driven`,
          }
        : {}),
    });
  } finally {
    await deps.leases.release(fence).catch(() => undefined);
  }
}

/** The partition's lease, if nobody holds it: a live lease means an execution runs (or will claim) the job. */
async function takeIdleLease(deps: OrphanDeps, job: TransferJob, actor: string): Promise<LeaseToken> {
  const busy = (region: string) =>
    new ConflictError(
      `job ${job.jobId} is ${job.status} and an execution in ${region} holds its partition; retry once it ends or its lease expires`,
      'JOB_IN_PROGRESS',
    );
  const held = await deps.leases.get(job.partitionId);
  if (held && held.expiresAt >= deps.clock.now()) throw busy(held.ownerRegion);
  const executionId = `api:${actor}:${job.jobId}`;
  let lease: Awaited<ReturnType<LeaseStore['acquire']>>;
  try {
    lease = await deps.leases.acquire(job.partitionId, { executionId, region: deps.region }, deps.leaseTtlMs);
  } catch (error) {
    if (error instanceof LeaseHeldError) throw busy(error.holder.ownerRegion);
    throw error;
  }
  const token = tokenOf(lease, executionId);
  // An execution of this region took the lease between our look and our write: we joined it.
  if (lease.executions.some((id) => id !== executionId)) {
    await deps.leases.release(token).catch(() => undefined);
    throw busy(lease.ownerRegion);
  }
  return token;
}
