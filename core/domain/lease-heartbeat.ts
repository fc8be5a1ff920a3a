import type { Clock } from './clock';
import { StaleOwnerError } from './errors';
import type { LeaseToken } from './lease';
import type { LeaseStore } from './ports';

export interface HeartbeatTiming {
  leaseTtlMs: number;
  /** How often the lease is renewed (a third of the TTL by default). */
  heartbeatMs: number;
  /**
   * A write of the lease less than this long ago (a renewal, or the acquisition the token records
   * as renewedAt) answers for `confirm`: nobody can take the lease until a whole TTL after it, unless
   * it was released, which only its own execution does, once its tasks have ended (the S3→S3 copy
   * relies on that). Unset (the worker, the fast path): every confirm renews, so even a lease
   * released and taken by another holder moments ago stops the work before it commits.
   */
  freshForMs?: number;
}

export interface HeartbeatEvents {
  /** The lease is no longer this holder's: stop at once and commit nothing. Called once. */
  onLost: (reason: unknown) => void;
  /** A renewal failed for another reason (e.g. DynamoDB unreachable); the heartbeat keeps trying. */
  onRenewalFailed?: (error: unknown, silentForMs: number) => void;
}

/** The lease was not renewed for a whole TTL: another region may have taken it over meanwhile. */
export class LeaseExpiredError extends StaleOwnerError {
  constructor(silentForMs: number) {
    super(`the lease could not be renewed for ${silentForMs} ms; another region may have taken it`);
  }
}

/**
 * Keeps a partition lease while work runs under it: the Lambda S3→S3 copy and
 * the worker both hold their lease through this. A renewal the store refuses
 * (StaleOwnerError: another owner or epoch) ends the mandate at once; other
 * failures are retried at the next beat until the lease has gone a whole TTL
 * without renewal, which ends it too (LeaseExpiredError).
 */
export class LeaseHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private lastRenewal: number;
  /** When the last write of the lease that confirm may rely on began, if any. */
  private lastWrite: number | undefined;
  private lostReason: unknown;

  constructor(
    private readonly leases: LeaseStore,
    private readonly clock: Clock,
    private readonly lease: LeaseToken,
    private readonly timing: HeartbeatTiming,
    private readonly events: HeartbeatEvents,
  ) {
    this.lastRenewal = clock.now();
    this.lastWrite = lease.renewedAt;
  }

  /** Why the mandate ended, if it did. */
  get lost(): unknown {
    return this.lostReason;
  }

  /** Confirms once now (so work never starts under a lost lease), then renews every heartbeat. */
  async start(): Promise<void> {
    await this.confirm();
    this.timer = setInterval(() => void this.beat(), this.timing.heartbeatMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Renews now, unless the lease was written less than freshForMs ago; throws why the mandate ended
   * if it has. Called right before committing anything.
   */
  async confirm(): Promise<void> {
    if (this.lostReason !== undefined) throw this.lostReason;
    const { freshForMs } = this.timing;
    if (freshForMs !== undefined && this.lastWrite !== undefined && this.clock.now() - this.lastWrite < freshForMs) return;
    try {
      // The lease expires a TTL after the store's write, which comes after this moment.
      const writing = this.clock.now();
      await this.leases.renew(this.lease, this.timing.leaseTtlMs);
      this.lastRenewal = this.clock.now();
      this.lastWrite = writing;
    } catch (error) {
      if (error instanceof StaleOwnerError) this.end(error);
      throw error;
    }
  }

  /**
   * One beat, as the timer makes it every heartbeat: a renewal whose failure
   * ends the mandate only if the store refused it or a whole TTL has gone by
   * without renewal. Public so tests can beat at moments they choose.
   */
  async beat(): Promise<void> {
    if (this.lostReason !== undefined) return;
    try {
      await this.confirm();
    } catch (error) {
      if (this.lostReason !== undefined) return;
      const silentFor = this.clock.now() - this.lastRenewal;
      this.events.onRenewalFailed?.(error, silentFor);
      if (silentFor >= this.timing.leaseTtlMs) this.end(new LeaseExpiredError(silentFor));
    }
  }

  private end(reason: unknown): void {
    if (this.lostReason !== undefined) return;
    this.lostReason = reason;
    this.stop();
    this.events.onLost(reason);
  }
}
