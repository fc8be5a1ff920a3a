/**
 * The worker's side of the lease: it keeps the partition lease through a
 * LeaseHeartbeat while the transfer runs, writes progress at a bounded rate and
 * checkpoints when asked, all through the fenced job store. The moment the
 * lease or the job has moved on (StaleOwnerError, or the job is no longer
 * RUNNING), it calls `onLost`, which aborts the transfer: nothing is committed
 * after that. A lease that cannot be renewed for a whole TTL (e.g. DynamoDB
 * unreachable) counts as lost too (the heartbeat's LeaseExpiredError), since
 * another region may take it.
 */
import type { Clock } from '../domain/clock';
import { IllegalTransitionError, NotFoundError, StaleOwnerError } from '../domain/errors';
import type { JobWork, TransferJob } from '../domain/job';
import type { LeaseToken } from '../domain/lease';
import { LeaseHeartbeat } from '../domain/lease-heartbeat';
import type { JobKey, JobStore, LeaseStore } from '../domain/ports';
import { LeaseLostError, toTransferError } from '../domain/transfer/errors';
import type { Checkpoint, JobCheckpoint } from '../domain/transfer/io';
import type { Logger } from '../observability/logger';

export interface LivenessDeps {
  jobs: JobStore;
  leases: LeaseStore;
  clock: Clock;
  logger: Logger;
}

export interface LivenessConfig {
  leaseTtlMs: number;
  heartbeatMs: number;
  progressIntervalMs: number;
}

/** Errors from the fenced store that mean: this worker no longer has the right to write. */
function lostMandate(err: unknown): LeaseLostError | undefined {
  if (err instanceof LeaseLostError) return err;
  if (err instanceof StaleOwnerError) return new LeaseLostError(err.message, err);
  if (err instanceof IllegalTransitionError || err instanceof NotFoundError) {
    return new LeaseLostError(`the job is no longer RUNNING under this lease: ${err.message}`, err);
  }
  return undefined;
}

export class Liveness implements JobCheckpoint {
  private checkpointState: Checkpoint;
  private progressState: { bytesTransferred: number; bytesTotal?: number } | undefined;
  private lastProgressWrite = 0;
  /** bytesTransferred as the last progress write left it (none yet: 0). */
  private writtenBytes = 0;
  private progressTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: LeaseHeartbeat;
  private writes: Promise<unknown> = Promise.resolve();
  private lost: LeaseLostError | undefined;
  private stopped = false;
  private progressClosed = false;

  constructor(
    private readonly deps: LivenessDeps,
    private readonly key: JobKey,
    private readonly lease: LeaseToken,
    private readonly config: LivenessConfig,
    private readonly onLost: (error: LeaseLostError) => void,
    checkpoint: Checkpoint = {},
  ) {
    this.checkpointState = { ...checkpoint };
    this.heartbeat = new LeaseHeartbeat(deps.leases, deps.clock, lease, config, {
      onLost: (reason) => this.fail(reason),
      onRenewalFailed: (error, silentForMs) =>
        deps.logger.warn('lease renewal failed', { error: toTransferError(error).message, silentForMs }),
    });
    // The first progress write waits an interval too: a small file is done (and its result
    // written) before then, one DynamoDB write less per file of a batch.
    this.lastProgressWrite = deps.clock.now();
  }

  get checkpoint(): Readonly<Checkpoint> {
    return this.checkpointState;
  }

  /** Renews once now (so a lost lease stops the worker before it touches anything), then every heartbeat. */
  async start(): Promise<void> {
    await this.renewing(() => this.heartbeat.start());
  }

  /** Stops the timers and waits for writes under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.heartbeat.stop();
    clearTimeout(this.progressTimer);
    await this.writes.catch(() => undefined);
  }

  /** Renews the lease now; throws LeaseLostError if it has moved on. Called right before committing. */
  async confirmLease(): Promise<void> {
    await this.renewing(() => this.heartbeat.confirm());
  }

  /** A renewal through the heartbeat, its failure as a LeaseLostError (the mandate ended) or a TransferError. */
  private async renewing(renew: () => Promise<void>): Promise<void> {
    if (this.lost) throw this.lost;
    try {
      await renew();
    } catch (err) {
      throw this.fail(err) ?? toTransferError(err);
    }
  }

  /** Notes progress; written at most once per progress interval. */
  progress(bytesTransferred: number, bytesTotal?: number): void {
    if (this.progressClosed) return;
    this.progressState = { bytesTransferred, ...(bytesTotal !== undefined ? { bytesTotal } : {}) };
    if (this.progressTimer || this.stopped) return;
    const wait = Math.max(0, this.lastProgressWrite + this.config.progressIntervalMs - this.deps.clock.now());
    this.progressTimer = setTimeout(() => {
      this.progressTimer = undefined;
      this.lastProgressWrite = this.deps.clock.now();
      const state = this.progressState;
      if (!state || this.stopped || this.progressClosed) return;
      // Nothing moved since the last write (a small file of a batch waiting for its session): no write.
      if (state.bytesTransferred === this.writtenBytes) return;
      this.writtenBytes = state.bytesTransferred;
      this.record(state).catch((err: unknown) => {
        if (!lostMandate(err)) this.deps.logger.warn('progress not recorded', { error: toTransferError(err).message });
      });
    }, wait);
    this.progressTimer.unref();
  }

  /**
   * No more progress writes: the next write is the outcome, and a progress
   * write timed after it must not overwrite its byte counts.
   */
  closeProgress(): void {
    this.progressClosed = true;
    clearTimeout(this.progressTimer);
    this.progressTimer = undefined;
  }

  /** Merges `patch` into the job's checkpoint (undefined removes a field) and writes it now. */
  async saveCheckpoint(patch: Checkpoint): Promise<void> {
    const next: Checkpoint = { ...this.checkpointState };
    for (const [field, value] of Object.entries(patch)) {
      if (value === undefined) delete next[field];
      else next[field] = value;
    }
    this.checkpointState = next;
    await this.record({ checkpoint: next });
  }

  /** Writes `work` on the RUNNING job (see write). */
  record(work: JobWork): Promise<TransferJob> {
    return this.write(() => this.deps.jobs.recordWork(this.key, this.lease, work));
  }

  /**
   * The delivery's result, written with RUNNING → VERIFYING in one conditional
   * write: the job is handed to verification with what to verify (see write).
   */
  deliver(work: JobWork): Promise<TransferJob> {
    const origin = { actor: 'data-plane', region: this.lease.region, fence: this.lease };
    return this.write(() => this.deps.jobs.transition(this.key, 'VERIFYING', { ...origin, work }));
  }

  /**
   * The delivery's last write made by `send` (the batch's: verified, then SUCCEEDED with the result
   * in one write), queued and fenced like deliver.
   */
  finish(send: () => Promise<TransferJob>): Promise<TransferJob> {
    return this.write(send);
  }

  /**
   * One fenced write, after those already under way (so a slow progress write
   * can never land after the result). Loss of the lease aborts the transfer.
   */
  private write(send: () => Promise<TransferJob>): Promise<TransferJob> {
    if (this.lost) return Promise.reject(this.lost);
    const queued = this.writes.then(async () => {
      if (this.lost) throw this.lost;
      try {
        return await send();
      } catch (err) {
        throw this.fail(err) ?? err;
      }
    });
    this.writes = queued.catch(() => undefined);
    return queued;
  }

  /** Records the loss of the mandate (once) and tells the owner; undefined for other errors. */
  private fail(err: unknown): LeaseLostError | undefined {
    const lost = lostMandate(err);
    if (!lost) return undefined;
    if (!this.lost) {
      this.lost = lost;
      this.heartbeat.stop();
      clearTimeout(this.progressTimer);
      this.onLost(lost);
    }
    return this.lost;
  }
}
