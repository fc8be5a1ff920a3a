import { systemClock } from '../../domain/clock';
import type { LeaseToken } from '../../domain/lease';
import { LeaseHeartbeat } from '../../domain/lease-heartbeat';
import type { LeaseStore } from '../../domain/ports';

/**
 * Runs `work` under a LeaseHeartbeat renewing every third of the TTL (at least
 * every second). Once the lease is lost (the store refuses a renewal, or none
 * succeeded for a whole TTL) the AbortSignal given to `work` fires and the
 * reason is what this throws, so stale work stops and commits nothing.
 * `renewNow` renews before a commit (unless a renewal has just succeeded) and throws if the lease
 * cannot be renewed.
 */
export async function withLeaseHeartbeat<T>(
  leases: LeaseStore,
  token: LeaseToken,
  ttlMs: number,
  work: (signal: AbortSignal, renewNow: () => Promise<void>) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timing = { leaseTtlMs: ttlMs, heartbeatMs: Math.max(1000, Math.floor(ttlMs / 3)) };
  let renewedAt = Number.NEGATIVE_INFINITY;
  const renewing: LeaseStore = {
    acquire: (...args) => leases.acquire(...args),
    release: (...args) => leases.release(...args),
    get: (...args) => leases.get(...args),
    renew: async (...args) => {
      const lease = await leases.renew(...args);
      renewedAt = systemClock.now();
      return lease;
    },
  };
  const heartbeat = new LeaseHeartbeat(renewing, systemClock, token, timing, { onLost: (reason) => controller.abort(reason) });
  // A renewal less than half a beat old answers for renewNow (the copy's commit right after the start's
  // renewal): the lease is ours for a whole TTL after it, and nobody can take it before it expires.
  const renewNow = async () => {
    if (heartbeat.lost !== undefined) throw heartbeat.lost;
    if (systemClock.now() - renewedAt < timing.heartbeatMs / 2) return;
    await heartbeat.confirm();
  };
  try {
    await heartbeat.start();
    const result = await work(controller.signal, renewNow);
    if (heartbeat.lost !== undefined) throw heartbeat.lost;
    return result;
  } catch (error) {
    throw heartbeat.lost ?? error;
  } finally {
    heartbeat.stop();
  }
}
