import { type Clock, systemClock } from '../../domain/clock';
import type { LeaseToken } from '../../domain/lease';
import { LeaseHeartbeat } from '../../domain/lease-heartbeat';
import type { LeaseStore } from '../../domain/ports';

/**
 * Runs `work` under a LeaseHeartbeat renewing every third of the TTL (at least
 * every second). Once the lease is lost (the store refuses a renewal, or none
 * succeeded for a whole TTL) the AbortSignal given to `work` fires and the
 * reason is what this throws, so stale work stops and commits nothing.
 * `renewNow` renews before a commit and throws if the lease cannot be renewed;
 * a write of the lease less than half a heartbeat old (the token's acquisition
 * by StartTransfer, moments before) answers for it without a request.
 */
export async function withLeaseHeartbeat<T>(
  leases: LeaseStore,
  token: LeaseToken,
  ttlMs: number,
  work: (signal: AbortSignal, renewNow: () => Promise<void>) => Promise<T>,
  clock: Clock = systemClock,
): Promise<T> {
  const controller = new AbortController();
  const heartbeatMs = Math.max(1000, Math.floor(ttlMs / 3));
  const timing = { leaseTtlMs: ttlMs, heartbeatMs, freshForMs: Math.floor(heartbeatMs / 2) };
  const heartbeat = new LeaseHeartbeat(leases, clock, token, timing, { onLost: (reason) => controller.abort(reason) });
  try {
    await heartbeat.start();
    const result = await work(controller.signal, () => heartbeat.confirm());
    if (heartbeat.lost !== undefined) throw heartbeat.lost;
    return result;
  } catch (error) {
    throw heartbeat.lost ?? error;
  } finally {
    heartbeat.stop();
  }
}
