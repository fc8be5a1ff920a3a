import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Clock } from '../../domain/clock';
import { LeaseHeldError, StaleOwnerError } from '../../domain/errors';
import type { Lease, LeaseOwner, LeaseToken } from '../../domain/lease';
import type { LeaseStore } from '../../domain/ports';
import { isConditionFailed } from './client';

/**
 * Partition leases with fencing, each operation one conditional UpdateItem.
 * A released lease keeps its item (with expiresAt 0) so its epoch never goes
 * back: a holder from before the release can never match a later epoch.
 */
export class DynamoLeaseStore implements LeaseStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
    private readonly clock: Clock,
  ) {}

  async acquire(partitionId: string, owner: LeaseOwner, ttlMs: number, attemptsLeft = 3): Promise<Lease> {
    const now = this.clock.now();
    const values = { ':owner': owner.ownerId, ':region': owner.ownerRegion, ':now': now, ':expires': now + ttlMs };
    // Re-acquiring our own live lease (a retried acquire step) keeps the epoch.
    const renewed = await this.tryUpdate({
      Key: marshall({ partitionId }),
      UpdateExpression: 'SET expiresAt = :expires, heartbeatAt = :now',
      ConditionExpression: 'ownerId = :owner AND expiresAt >= :now',
      ExpressionAttributeValues: marshall({ ':owner': owner.ownerId, ':now': now, ':expires': now + ttlMs }),
    });
    if (renewed) return renewed;
    // A new owner: only if the lease is free or expired; the epoch moves on.
    const taken = await this.tryUpdate({
      Key: marshall({ partitionId }),
      UpdateExpression:
        'SET ownerId = :owner, ownerRegion = :region, expiresAt = :expires, heartbeatAt = :now, acquiredAt = :now, epoch = if_not_exists(epoch, :zero) + :one',
      ConditionExpression: 'attribute_not_exists(partitionId) OR expiresAt < :now',
      ExpressionAttributeValues: marshall({ ...values, ':zero': 0, ':one': 1 }),
    });
    if (taken) return taken;
    const holder = await this.get(partitionId);
    if (holder?.ownerId && holder.expiresAt >= now) throw new LeaseHeldError(partitionId, { ...holder, ownerId: holder.ownerId });
    // Released or expired between our writes: look again rather than report a phantom holder.
    if (attemptsLeft > 1) return this.acquire(partitionId, owner, ttlMs, attemptsLeft - 1);
    throw new LeaseHeldError(partitionId, holder ?? { ownerId: 'unknown', ownerRegion: 'unknown', expiresAt: now });
  }

  async renew(token: LeaseToken, ttlMs: number): Promise<Lease> {
    const now = this.clock.now();
    const lease = await this.tryUpdate({
      Key: marshall({ partitionId: token.partitionId }),
      UpdateExpression: 'SET expiresAt = :expires, heartbeatAt = :now',
      // Same owner and epoch: nobody has taken over, so extending is safe even past expiry.
      ConditionExpression: 'ownerId = :owner AND epoch = :epoch AND expiresAt > :released',
      ExpressionAttributeValues: marshall({
        ':owner': token.ownerId,
        ':epoch': token.epoch,
        ':now': now,
        ':expires': now + ttlMs,
        ':released': 0,
      }),
    });
    if (!lease) throw await this.staleOwner(token, 'renew');
    return lease;
  }

  async release(token: LeaseToken): Promise<void> {
    const released = await this.tryUpdate({
      Key: marshall({ partitionId: token.partitionId }),
      UpdateExpression: 'SET expiresAt = :released REMOVE ownerId',
      ConditionExpression: 'ownerId = :owner AND epoch = :epoch',
      ExpressionAttributeValues: marshall({ ':owner': token.ownerId, ':epoch': token.epoch, ':released': 0 }),
    });
    if (!released) throw await this.staleOwner(token, 'release');
  }

  async get(partitionId: string): Promise<Lease | undefined> {
    const result = await this.db.send(
      new GetItemCommand({ TableName: this.table, Key: marshall({ partitionId }), ConsistentRead: true }),
    );
    return result.Item ? toLease(result.Item) : undefined;
  }

  /** Runs a conditional update; undefined when the condition did not hold. */
  private async tryUpdate(input: Omit<UpdateItemCommandInput, 'TableName' | 'ReturnValues'>): Promise<Lease | undefined> {
    try {
      const result = await this.db.send(new UpdateItemCommand({ ...input, TableName: this.table, ReturnValues: 'ALL_NEW' }));
      return toLease(result.Attributes ?? {});
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  private async staleOwner(token: LeaseToken, action: string): Promise<StaleOwnerError> {
    const current = await this.get(token.partitionId);
    const now = current
      ? `now epoch ${current.epoch}${current.ownerId ? ` held by ${current.ownerRegion}` : ', released'}`
      : 'no lease';
    return new StaleOwnerError(`cannot ${action} lease ${token.partitionId} at epoch ${token.epoch}: ${now}`);
  }
}

function toLease(item: Record<string, AttributeValue>): Lease {
  return unmarshall(item) as Lease;
}
