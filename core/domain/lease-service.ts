import type { Lease, LeaseToken } from './lease';
import type { LeaseStore } from './ports';

/** How long a lease lives without a heartbeat; a region that dies loses it after this. */
export const DEFAULT_LEASE_TTL_MS = 5 * 60_000;

export interface AcquireLeaseRequest {
  partitionId: string;
  /** The execution that will do the work (its ARN or name). */
  executionId: string;
  ttlMs?: number;
}

export interface LeaseDeps {
  leases: LeaseStore;
  region: string;
}

export function acquireLease(deps: LeaseDeps, request: AcquireLeaseRequest): Promise<Lease> {
  return deps.leases.acquire(
    request.partitionId,
    { executionId: request.executionId, region: deps.region },
    request.ttlMs ?? DEFAULT_LEASE_TTL_MS,
  );
}

export function renewLease(deps: LeaseDeps, token: LeaseToken, ttlMs = DEFAULT_LEASE_TTL_MS): Promise<Lease> {
  return deps.leases.renew(token, ttlMs);
}

export function releaseLease(deps: LeaseDeps, token: LeaseToken): Promise<void> {
  return deps.leases.release(token);
}
