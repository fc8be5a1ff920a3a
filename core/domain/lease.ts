/**
 * A partition lease (spec 8.5): one holder at a time per
 * customer + source endpoint + target endpoint. The epoch increases on every
 * change of owner, so writes made under an older epoch can be refused (fencing).
 */
export interface Lease {
  partitionId: string;
  ownerId: string;
  ownerRegion: string;
  epoch: number;
  /** ms since the epoch */
  expiresAt: number;
  heartbeatAt: number;
  acquiredAt: number;
}

export interface LeaseOwner {
  /** Unique per execution attempt, e.g. the Step Functions execution ARN. */
  ownerId: string;
  ownerRegion: string;
}

/** Proof of holding a lease, handed to everything that writes under it. */
export interface LeaseToken {
  partitionId: string;
  ownerId: string;
  epoch: number;
}

export function tokenOf(lease: Lease): LeaseToken {
  return { partitionId: lease.partitionId, ownerId: lease.ownerId, epoch: lease.epoch };
}
