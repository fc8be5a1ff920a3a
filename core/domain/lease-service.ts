import type { LeaseToken } from './lease';
import type { LeaseStore } from './ports';

/** How long a lease lives without a heartbeat; a region that dies loses it after this. */
export const DEFAULT_LEASE_TTL_MS = 5 * 60_000;

export interface LeaseDeps {
  leases: LeaseStore;
}

export function releaseLease(deps: LeaseDeps, token: LeaseToken): Promise<void> {
  return deps.leases.release(token);
}
