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

/** Partitions whose last lease outcome a process remembers. */
const MAX_HINTS = 1000;

/**
 * Partition leases with fencing, each operation a conditional UpdateItem.
 * A released lease keeps its item (expiresAt 0) so its epoch never goes back:
 * a holder from before the release can never match a later epoch.
 */
export class DynamoLeaseStore implements LeaseStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
    private readonly clock: Clock,
  ) {}

  async acquire(partitionId: string, owner: LeaseOwner, ttlMs: number): Promise<Lease> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.clock.now();
      const values = {
        ':region': owner.region,
        ':now': now,
        ':expires': now + ttlMs,
        ':execution': new Set([owner.executionId]),
      };
      // The owning region's executions join the live lease; the epoch stays.
      const join = () =>
        this.tryUpdate({
          Key: marshall({ partitionId }),
          UpdateExpression: 'SET expiresAt = :expires, heartbeatAt = :now ADD executions :execution',
          ConditionExpression: 'ownerRegion = :region AND expiresAt >= :now',
          ExpressionAttributeValues: marshall(values),
        });
      // A new owner: only if the lease is free or expired; the epoch moves on.
      const take = () =>
        this.tryUpdate({
          Key: marshall({ partitionId }),
          UpdateExpression:
            'SET ownerRegion = :region, expiresAt = :expires, heartbeatAt = :now, acquiredAt = :now, executions = :execution, epoch = if_not_exists(epoch, :zero) + :one',
          ConditionExpression: 'attribute_not_exists(partitionId) OR expiresAt < :now',
          ExpressionAttributeValues: marshall({ ...values, ':zero': 0, ':one': 1 }),
        });
      // Both writes are conditional, so their order changes only how many requests it takes: a partition
      // this process saw held by several executions is joined first, any other (most often free) taken.
      const seen = this.hints.get(partitionId);
      const order = seen === 'join' || seen === 'shared' ? [join, take] : [take, join];
      for (const write of order) {
        const lease = await write();
        if (lease) {
          this.hint(partitionId, write === take ? 'take' : 'join');
          return lease;
        }
      }
      const holder = await this.get(partitionId);
      // Held by the other region: refused. Otherwise it changed between our writes: look again.
      if (holder && holder.ownerRegion !== owner.region && holder.expiresAt >= now) throw new LeaseHeldError(partitionId, holder);
    }
    throw new LeaseHeldError(partitionId, (await this.get(partitionId)) ?? { ownerRegion: 'unknown', expiresAt: 0 });
  }

  async renew(token: LeaseToken, ttlMs: number): Promise<Lease> {
    const now = this.clock.now();
    const lease = await this.tryUpdate({
      Key: marshall({ partitionId: token.partitionId }),
      UpdateExpression: 'SET expiresAt = :expires, heartbeatAt = :now',
      // Same region and epoch: nobody has taken over, so extending is safe even past expiry.
      ConditionExpression: 'ownerRegion = :region AND epoch = :epoch AND expiresAt > :released',
      ExpressionAttributeValues: marshall({
        ':region': token.region,
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
    const owned = {
      ':region': token.region,
      ':epoch': token.epoch,
      ':released': 0,
    };
    // The only execution holding it (a single job's, most often): leave and free it in one write.
    if (this.hints.get(token.partitionId) !== 'shared') {
      const freed = await this.tryUpdate({
        Key: marshall({ partitionId: token.partitionId }),
        UpdateExpression: 'SET expiresAt = :released REMOVE executions',
        ConditionExpression:
          'ownerRegion = :region AND epoch = :epoch AND expiresAt > :released AND size(executions) = :one AND contains(executions, :execution)',
        ExpressionAttributeValues: marshall({ ...owned, ':one': 1, ':execution': token.executionId }),
      });
      if (freed) {
        this.hint(token.partitionId, 'take');
        return;
      }
    }
    const left = await this.tryUpdate({
      Key: marshall({ partitionId: token.partitionId }),
      UpdateExpression: 'DELETE executions :execution',
      ConditionExpression: 'ownerRegion = :region AND epoch = :epoch AND expiresAt > :released',
      ExpressionAttributeValues: marshall({ ...owned, ':execution': new Set([token.executionId]) }),
    });
    if (!left) throw await this.staleOwner(token, 'release');
    if (left.executions.length > 0) {
      this.hint(token.partitionId, 'shared');
      return;
    }
    this.hint(token.partitionId, 'take');
    // The last execution out frees the partition, unless another joined meanwhile.
    await this.tryUpdate({
      Key: marshall({ partitionId: token.partitionId }),
      UpdateExpression: 'SET expiresAt = :released',
      ConditionExpression: 'epoch = :epoch AND attribute_not_exists(executions)',
      ExpressionAttributeValues: marshall({ ':epoch': token.epoch, ':released': 0 }),
    });
  }

  /**
   * What this process last saw of a partition: taken (free until then), joined or shared (other
   * executions held it too). Only the order of conditional writes depends on it, never an outcome.
   */
  private readonly hints = new Map<string, 'take' | 'join' | 'shared'>();

  private hint(partitionId: string, seen: 'take' | 'join' | 'shared'): void {
    this.hints.delete(partitionId);
    this.hints.set(partitionId, seen);
    if (this.hints.size > MAX_HINTS) this.hints.delete(this.hints.keys().next().value as string);
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
    const state = current
      ? `now epoch ${current.epoch}${current.expiresAt > 0 ? ` held by ${current.ownerRegion}` : ', released'}`
      : 'no lease';
    return new StaleOwnerError(`cannot ${action} lease ${token.partitionId} at epoch ${token.epoch}: ${state}`);
  }
}

function toLease(item: Record<string, AttributeValue>): Lease {
  const { executions, ...lease } = unmarshall(item);
  return { ...(lease as Omit<Lease, 'executions'>), executions: [...((executions as Set<string> | undefined) ?? [])] };
}
