/**
 * The worker's batch mode: many small files of one request (see
 * core/control-plane/transfers/batches.ts) in one task, under the lease its execution took.
 *
 * Each job goes through the same states as a job of its own: claimed
 * (QUEUED → RUNNING, see claimJob: a job another execution runs is skipped),
 * moved by runTransfer, its destination verified, then its result written
 * with RUNNING → VERIFYING → SUCCEEDED in one conditional write
 * (finishDelivery: two DynamoDB writes per file, not three), or FAILED with
 * its reason. A job claimed VERIFYING (taken over) is verified by verifyTransfer. What the jobs share: the drivers' connections
 * (one SFTP session per endpoint), the endpoints, and the lease renewals.
 *
 * One job failing fails that job only. Losing the lease, or SIGTERM, stops
 * the whole batch (no job starts or commits afterwards) and is thrown: the
 * state machine's FailBatch then fails the jobs left unfinished.
 */
import {
  claimJob,
  finishDelivery,
  markFailed,
  type OrchestrationDeps,
  verifyTransfer,
} from '../control-plane/orchestration/orchestration';
import type { Endpoint } from '../domain/endpoint';
import { TransientError } from '../domain/errors';
import type { TransferJob } from '../domain/job';
import type { Lease, LeaseOwner, LeaseToken } from '../domain/lease';
import type { BatchInput, EndpointStore, LeaseStore } from '../domain/ports';
import { LeaseLostError, StoppedError, TransferError, toTransferError } from '../domain/transfer/errors';
import { sleep } from '../domain/transfer/retry';
import { childLogger } from '../observability/logger';
import { ConnectionScope } from './connections';
import { runTransfer, type WorkerDeps } from './run-transfer';

export interface BatchSummary {
  succeeded: number;
  failed: number;
  /** Finished already, or run by another execution. */
  skipped: number;
}

/**
 * Jobs of a batch in flight at once. Small files spend their time in round
 * trips (open, read, close, PUT, DynamoDB writes), not in bytes, so several
 * at once keep one session busy; OpenSSH's sftp keeps 64 requests in flight.
 */
export const BATCH_FILES_IN_FLIGHT = 16;

export async function runBatch(
  deps: WorkerDeps,
  batch: BatchInput,
  lease: LeaseToken,
  options: { signal?: AbortSignal; filesInFlight?: number } = {},
): Promise<BatchSummary> {
  const connections = new ConnectionScope();
  const shared: WorkerDeps = {
    ...deps,
    endpoints: new CachedEndpoints(deps.endpoints),
    leases: new SharedRenewals(deps.leases, () => deps.clock.now(), Math.floor(deps.config.heartbeatMs / 2)),
  };
  const orchestration: OrchestrationDeps = {
    jobs: deps.jobs,
    endpoints: shared.endpoints,
    leases: shared.leases,
    drivers: deps.drivers,
    region: deps.region,
    leaseTtlMs: deps.config.leaseTtlMs,
    connections,
  };
  const summary: BatchSummary = { succeeded: 0, failed: 0, skipped: 0 };
  // The first batch-wide stop (lease lost, SIGTERM): no further job is started.
  let stop: Error | undefined;
  const stopped = () => stop ?? (options.signal?.aborted ? toTransferError(options.signal.reason) : undefined);

  const runOne = async (jobId: string) => {
    const key = { customerId: batch.customerId, jobId };
    let claim: Awaited<ReturnType<typeof claimJob>>;
    try {
      // A small file ends within moments: its RUNNING event is written with its end's.
      claim = await claimJob(deps.jobs, key, lease, { likelyQueued: true, auditWithEnd: true });
    } catch (err) {
      // The job store is failing us: stop here; FailBatch fails what is left.
      stop ??= toTransferError(err);
      return;
    }
    if (claim.action === 'SKIP') {
      summary.skipped++;
      deps.logger.info('job skipped', { jobId, reason: claim.reason });
      return;
    }
    try {
      let job = claim.job;
      if (claim.action === 'RUN') {
        const keys = { region: deps.region, ...key, batchId: batch.batchId, executionId: lease.executionId };
        // The batch's logger with the job's keys on every line: a Powertools logger of its own per
        // job cost ~0.4 ms of CPU per small file to construct (it reads its settings from the environment).
        const logger = childLogger(deps.logger, keys);
        const delivered = await runTransfer({ ...shared, logger }, key, lease, {
          connections,
          job,
          ...(options.signal ? { signal: options.signal } : {}),
          // Verified, then ended with its result in one write (finishDelivery), not VERIFYING first.
          finish: (running, work) =>
            withVerifyRetries(deps, options.signal, () =>
              finishDelivery(orchestration, running, lease, work, { actor: 'data-plane' }),
            ),
        });
        job = delivered.job;
      }
      if (job.status !== 'SUCCEEDED') await verifyWithRetries(deps, orchestration, job, lease, options.signal);
      summary.succeeded++;
    } catch (err) {
      const error = toTransferError(err);
      if (error instanceof LeaseLostError || error instanceof StoppedError) {
        stop ??= error;
        return;
      }
      // runTransfer recorded its reason on the job (lastError), which markFailed prefers; else
      // the error's name, as the state machine's FailTransfer gets it (VerificationError → VERIFICATION).
      const name = err instanceof TransferError ? err.code : (err as Error).name;
      await markFailed(orchestration, key, lease, { Error: name, Cause: error.message });
      summary.failed++;
    }
  };

  try {
    let next = 0;
    const lane = async () => {
      while (next < batch.jobIds.length && !stopped()) await runOne(batch.jobIds[next++] as string);
    };
    await Promise.all(Array.from({ length: options.filesInFlight ?? BATCH_FILES_IN_FLIGHT }, lane));
  } finally {
    await connections.close();
  }
  const reason = stopped();
  if (reason) throw reason;
  return summary;
}

const VERIFY_ATTEMPTS = 4;

/** VerifyTransfer's retries of the state machine (TransientError), here in the worker. */
async function verifyWithRetries(
  deps: WorkerDeps,
  orchestration: OrchestrationDeps,
  job: TransferJob,
  lease: LeaseToken,
  signal: AbortSignal | undefined,
): Promise<void> {
  let attempt = 0;
  await withVerifyRetries(deps, signal, () =>
    // The first attempt verifies the job as this worker left it; a retry reads it again.
    verifyTransfer(orchestration, { ...job, lease }, attempt++ === 0 ? job : undefined),
  );
}

/** `verify` again after a TransientError (a destination that could not be looked at), with backoff. */
async function withVerifyRetries<T>(deps: WorkerDeps, signal: AbortSignal | undefined, verify: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await verify();
    } catch (err) {
      if (!(err instanceof TransientError) || attempt >= VERIFY_ATTEMPTS) throw err;
      await sleep(deps.config.retryBaseMs * 2 ** (attempt - 1), signal ?? new AbortController().signal);
    }
  }
}

/** The batch's endpoints are read once, not once per file. */
class CachedEndpoints implements EndpointStore {
  private readonly cache = new Map<string, Promise<Endpoint | undefined>>();
  constructor(private readonly store: EndpointStore) {}

  get(customerId: string, endpointId: string): Promise<Endpoint | undefined> {
    const key = `${customerId}/${endpointId}`;
    let endpoint = this.cache.get(key);
    if (!endpoint) {
      endpoint = this.store.get(customerId, endpointId);
      this.cache.set(key, endpoint);
    }
    return endpoint;
  }

  getPair(customerId: string, firstId: string, secondId: string): Promise<[Endpoint | undefined, Endpoint | undefined]> {
    return Promise.all([this.get(customerId, firstId), this.get(customerId, secondId)]);
  }

  create: EndpointStore['create'] = (...args) => this.store.create(...args);
  list: EndpointStore['list'] = (...args) => this.store.list(...args);
  update: EndpointStore['update'] = (...args) => this.store.update(...args);
}

/**
 * Lease renewals shared by the jobs of a batch: a renewal that succeeded less
 * than `freshForMs` ago answers for all of them (16 files in flight need not
 * each renew the same lease before each commit). That is as safe as renewing:
 * nobody can take the lease before it expires, a full TTL after that renewal.
 */
class SharedRenewals implements LeaseStore {
  private last: { at: number; lease: Lease } | undefined;
  private pending: Promise<Lease> | undefined;

  constructor(
    private readonly store: LeaseStore,
    private readonly now: () => number,
    private readonly freshForMs: number,
  ) {}

  renew(token: LeaseToken, ttlMs: number): Promise<Lease> {
    if (this.last && this.now() - this.last.at < this.freshForMs) return Promise.resolve(this.last.lease);
    if (!this.pending) {
      const at = this.now();
      this.pending = this.store.renew(token, ttlMs).then(
        (lease) => {
          this.last = { at, lease };
          this.pending = undefined;
          return lease;
        },
        (error: unknown) => {
          this.pending = undefined;
          throw error;
        },
      );
    }
    return this.pending;
  }

  acquire(partitionId: string, owner: LeaseOwner, ttlMs: number): Promise<Lease> {
    return this.store.acquire(partitionId, owner, ttlMs);
  }
  release(token: LeaseToken): Promise<void> {
    return this.store.release(token);
  }
  get(partitionId: string): Promise<Lease | undefined> {
    return this.store.get(partitionId);
  }
}
