/**
 * A partition lease (spec 8.3.2, 8.5): for each customer + source endpoint +
 * target endpoint, one REGION at a time executes jobs. Executions of the owning
 * region share the lease (a batch of many files runs in parallel, not in
 * series); the other region is refused until the lease is released or expires.
 * The epoch increases on every change of owning region, so writes made under an
 * older epoch can be refused (fencing).
 */
export interface Lease {
  partitionId: string;
  ownerRegion: string;
  epoch: number;
  /** ms since the epoch */
  expiresAt: number;
  heartbeatAt: number;
  acquiredAt: number;
  /** Executions of the owning region that hold the lease now. */
  executions: string[];
}

export interface LeaseOwner {
  /** Unique per execution, e.g. the Step Functions execution ARN. */
  executionId: string;
  region: string;
}

/** Proof of holding a lease, handed to everything that writes under it. */
export interface LeaseToken extends LeaseOwner {
  partitionId: string;
  epoch: number;
  /**
   * When the lease was last written for this holder (its heartbeatAt, ms since the epoch). Nobody can
   * take a lease before it expires, a whole TTL after that write, so a holder may act on a write this
   * recent without renewing first (LeaseHeartbeat's freshForMs).
   */
  renewedAt?: number;
}

export function tokenOf(lease: Lease, executionId: string): LeaseToken {
  return {
    partitionId: lease.partitionId,
    executionId,
    region: lease.ownerRegion,
    epoch: lease.epoch,
    renewedAt: lease.heartbeatAt,
  };
}
