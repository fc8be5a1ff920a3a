/**
 * The reconciler (spec 8.5, issue 15): what makes a region's jobs resume by themselves when the
 * execution that ran them is gone — its region died, its state-machine runner was killed, it was
 * stopped or timed out (a whole-execution timeout runs no Catch) — and what starts the jobs whose
 * execution was deferred because the other region held their partition.
 *
 * Every tick, in each region: the jobs not yet ended (the byActive index), grouped by partition.
 * A partition whose lease is live is left alone: its holder runs (or will claim) its jobs, and if
 * the holder dies the lease expires within its TTL. The jobs of a partition with no live lease have
 * no execution working on them; those untouched for the grace period get a new execution in this
 * region, small SFTP files in batches as at creation. That execution takes the lease under a new
 * epoch (fencing out whatever is left of the old holder) and its claim resumes each job from its
 * checkpoint: RUNNING from its completed parts or staged copy, VERIFYING straight to verification
 * (orchestration.ts claimJob). Both regions reconcile: whichever takes the lease first runs the
 * jobs, the other's executions are deferred or skip them.
 *
 * Worst case from a region's death to its jobs running again elsewhere: the lease TTL (the last
 * heartbeat) + the grace (≤ the TTL, counted from the job's last write, which is older) + one tick.
 */

import type { Clock } from '../../domain/clock';
import { type Drivers, isServerSideCopy } from '../../domain/drivers';
import { sha256Hex } from '../../domain/ids';
import { ACTIVE_SHARDS, isTerminal, type TransferJob } from '../../domain/job';
import type { Lease } from '../../domain/lease';
import type { Logger } from '../../domain/logger';
import { inParallel } from '../../domain/parallel';
import type { ActiveJob, ExecutionStarter, JobStore, LeaseStore } from '../../domain/ports';
import { type ExecutionPlan, planExecutions } from '../transfers/batches';

export interface ReconcileDeps {
  jobs: JobStore;
  leases: LeaseStore;
  executions: ExecutionStarter;
  drivers: Drivers;
  clock: Clock;
  logger: Logger;
  /** A job written more recently than this is left alone: its execution may be starting right now. */
  graceMs: number;
  /** A job restarted but not written for this long is reported stuck (the alarm hook). */
  stuckAfterMs: number;
}

export interface ReconcileOutcome {
  /** Jobs not yet ended. */
  active: number;
  /** Of those, in partitions whose lease is live: their holder's. */
  held: number;
  /** Jobs handed to new executions, and how many executions that took. */
  restarted: number;
  executions: number;
  /** Restarted jobs that have not been written for stuckAfterMs: restarts are not helping them. */
  stuck: string[];
}

/** Jobs and partitions looked at concurrently. */
const CONCURRENCY = 16;

export async function reconcile(deps: ReconcileDeps): Promise<ReconcileOutcome> {
  const now = deps.clock.now();
  const active = await listActiveJobs(deps.jobs);
  const byPartition = new Map<string, ActiveJob[]>();
  for (const job of active) byPartition.set(job.partitionId, [...(byPartition.get(job.partitionId) ?? []), job]);
  const outcome: ReconcileOutcome = { active: active.length, held: 0, restarted: 0, executions: 0, stuck: [] };
  await inParallel([...byPartition], CONCURRENCY, async ([partitionId, members]) => {
    const lease = await deps.leases.get(partitionId);
    if (lease && lease.expiresAt >= now) {
      outcome.held += members.length;
      return;
    }
    const orphans = await orphansOf(deps, members, now);
    if (orphans.length === 0) return;
    const plans = planExecutions(orphans, {
      serverSideCopy: isServerSideCopy(deps.drivers, (orphans[0] as TransferJob).flowType),
    });
    await inParallel(plans, CONCURRENCY, (plan) => restart(deps, plan, restartSalt(lease, now, deps.graceMs)));
    outcome.restarted += orphans.length;
    outcome.executions += plans.length;
    outcome.stuck.push(...orphans.filter((job) => now - Date.parse(job.updatedAt) >= deps.stuckAfterMs).map((job) => job.jobId));
  });
  if (outcome.restarted > 0) {
    deps.logger.info('restarted jobs whose execution is gone', {
      restarted: outcome.restarted,
      executions: outcome.executions,
    });
  }
  if (outcome.stuck.length > 0) {
    deps.logger.warn('jobs stuck: restarted, yet not written for too long', {
      metric: 'StuckJobs',
      count: outcome.stuck.length,
      jobIds: outcome.stuck.slice(0, 50),
    });
  }
  return outcome;
}

async function listActiveJobs(jobs: JobStore): Promise<ActiveJob[]> {
  const shards = Array.from({ length: ACTIVE_SHARDS }, (_, shard) => String(shard));
  const pages = await inParallel(shards, ACTIVE_SHARDS, async (shard) => {
    const found: ActiveJob[] = [];
    let after: unknown;
    do {
      const page = await jobs.listActive(shard, after);
      found.push(...page.jobs);
      after = page.next;
    } while (after);
    return found;
  });
  return pages.flat();
}

/**
 * The partition's jobs, read again (the index lags), that are still not ended and past the grace.
 * Read 100 to a request: a batch of small files waiting for its execution is thousands of jobs.
 */
async function orphansOf(deps: ReconcileDeps, members: ActiveJob[], now: number): Promise<TransferJob[]> {
  const jobs = await deps.jobs.getMany(members);
  return jobs.filter((job) => !isTerminal(job.status) && now - Date.parse(job.updatedAt) >= deps.graceMs);
}

/**
 * Execution names are refused for 90 days once used in a region, so a restart cannot reuse the
 * job's (or batch's) id: it is salted with the lease's state and the grace period the tick falls
 * in. Two reconcilers of one region in the same period start one execution, not two; once the
 * lease changes hands, or a period later, a new name can start again.
 */
function restartSalt(lease: Lease | undefined, now: number, graceMs: number): string {
  const state = [lease?.epoch ?? 0, lease?.ownerRegion ?? '', lease?.heartbeatAt ?? 0, Math.floor(now / Math.max(graceMs, 1))];
  return sha256Hex(JSON.stringify(state)).slice(0, 10);
}

function restart(deps: ReconcileDeps, plan: ExecutionPlan, salt: string): Promise<void> {
  if (plan.kind === 'job') return deps.executions.start(plan.job, { name: `${plan.job.jobId}-r${salt}` });
  return deps.executions.startBatch(
    { customerId: plan.customerId, batchId: plan.batchId, jobIds: plan.jobs.map((job) => job.jobId) },
    { name: `${plan.batchId}-r${salt}` },
  );
}
