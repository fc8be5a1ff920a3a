import type { LeaseToken } from '../../domain/lease';
import type { LeaseStore } from '../../domain/ports';

/**
 * Runs `work` while renewing the lease every third of its TTL. If a renewal is
 * refused (another region took the partition over), the AbortSignal given to
 * `work` fires and the renewal's error is what this throws, so stale work
 * stops and commits nothing.
 */
export async function withLeaseHeartbeat<T>(
  leases: LeaseStore,
  token: LeaseToken,
  ttlMs: number,
  work: (signal: AbortSignal, renewNow: () => Promise<void>) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let lost: unknown;
  const renewNow = async () => {
    try {
      await leases.renew(token, ttlMs);
    } catch (error) {
      lost ??= error;
      controller.abort(error);
      throw error;
    }
  };
  const timer = setInterval(() => void renewNow().catch(() => undefined), Math.max(1000, Math.floor(ttlMs / 3)));
  try {
    const result = await work(controller.signal, renewNow);
    if (lost) throw lost;
    return result;
  } catch (error) {
    throw lost ?? error;
  } finally {
    clearInterval(timer);
  }
}
