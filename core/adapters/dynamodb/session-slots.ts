import {
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { SessionSlotStore, SlotClaim, SlotQueue } from '../../domain/session-slots';
import { isConditionFailed } from './client';

/**
 * Partner session slots (core/domain/session-slots.ts) in the LEASES table,
 * beside the partition leases (whose ids are `<customer>#<source>#<target>`,
 * never starting with `session#`):
 *
 * - `session#<endpointId>#<n>`, n < maxConcurrency: { holder, token, region,
 *   expiresAt (ms), acquiredAt, heartbeatAt }. Free when absent or expired
 *   (a released slot has expiresAt 0). Slots above a lowered limit are simply
 *   no longer taken; their holders finish.
 * - `session#<endpointId>#queue`: the waiting line { issued, head, headAt, releases }.
 *
 * Only GetItem and UpdateItem (conditional), the actions every role that
 * renews a partition lease already has on this table. Items stay (one per
 * slot, one line per endpoint): nothing to clean up, no TTL needed.
 */
export class DynamoSessionSlotStore implements SessionSlotStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
  ) {}

  take(claim: SlotClaim, now: number, ttlMs: number): Promise<boolean> {
    return this.conditional({
      Key: slotKey(claim.endpointId, claim.slot),
      UpdateExpression:
        'SET endpointId = :endpoint, #slot = :slot, #holder = :holder, #token = :token, #region = :region, expiresAt = :expires, acquiredAt = :now, heartbeatAt = :now',
      ConditionExpression: 'attribute_not_exists(partitionId) OR expiresAt < :now',
      ExpressionAttributeNames: { '#slot': 'slot', '#holder': 'holder', '#token': 'token', '#region': 'region' },
      ExpressionAttributeValues: marshall({
        ':endpoint': claim.endpointId,
        ':slot': claim.slot,
        ':holder': claim.holder,
        ':token': claim.token,
        ':region': claim.region,
        ':expires': now + ttlMs,
        ':now': now,
      }),
    });
  }

  renew(endpointId: string, slot: number, token: string, now: number, ttlMs: number): Promise<boolean> {
    return this.conditional({
      Key: slotKey(endpointId, slot),
      UpdateExpression: 'SET expiresAt = :expires, heartbeatAt = :now',
      ConditionExpression: '#token = :token',
      ExpressionAttributeNames: { '#token': 'token' },
      ExpressionAttributeValues: marshall({ ':token': token, ':expires': now + ttlMs, ':now': now }),
    });
  }

  async release(endpointId: string, slot: number, token: string, now: number): Promise<void> {
    const released = await this.conditional({
      Key: slotKey(endpointId, slot),
      UpdateExpression: 'SET expiresAt = :zero, releasedAt = :now REMOVE #token',
      ConditionExpression: '#token = :token',
      ExpressionAttributeNames: { '#token': 'token' },
      ExpressionAttributeValues: marshall({ ':token': token, ':zero': 0, ':now': now }),
    });
    if (!released) return;
    // Tells the waiting head to look at the slots again now rather than at its next rescan.
    await this.update({
      Key: queueKey(endpointId),
      UpdateExpression: 'ADD releases :one',
      ExpressionAttributeValues: marshall({ ':one': 1 }),
    });
  }

  async queue(endpointId: string): Promise<SlotQueue> {
    const result = await this.db.send(
      new GetItemCommand({ TableName: this.table, Key: queueKey(endpointId), ConsistentRead: true }),
    );
    const item = result.Item ? unmarshall(result.Item) : {};
    return {
      issued: Number(item.issued ?? 0),
      releases: Number(item.releases ?? 0),
      ...(item.head !== undefined ? { head: Number(item.head), headAt: Number(item.headAt ?? 0) } : {}),
    };
  }

  async ticket(endpointId: string): Promise<number> {
    const result = await this.update({
      Key: queueKey(endpointId),
      UpdateExpression: 'ADD issued :one',
      ExpressionAttributeValues: marshall({ ':one': 1 }),
      ReturnValues: 'UPDATED_NEW',
    });
    return Number(unmarshall(result.Attributes ?? {}).issued);
  }

  claimHead(endpointId: string, ticket: number, now: number, staleBefore: number): Promise<boolean> {
    return this.conditional({
      Key: queueKey(endpointId),
      UpdateExpression: 'SET #head = :ticket, headAt = :now',
      ConditionExpression: 'attribute_not_exists(#head) OR #head >= :ticket OR headAt < :stale',
      ExpressionAttributeNames: { '#head': 'head' },
      ExpressionAttributeValues: marshall({ ':ticket': ticket, ':now': now, ':stale': staleBefore }),
    });
  }

  async passHead(endpointId: string, ticket: number, headAt: number): Promise<void> {
    await this.conditional({
      Key: queueKey(endpointId),
      UpdateExpression: 'SET #head = :next, headAt = :at',
      ConditionExpression: '#head = :ticket',
      ExpressionAttributeNames: { '#head': 'head' },
      ExpressionAttributeValues: marshall({ ':ticket': ticket, ':next': ticket + 1, ':at': headAt }),
    });
  }

  private update(input: Omit<UpdateItemCommandInput, 'TableName'>): Promise<UpdateItemCommandOutput> {
    return this.db.send(new UpdateItemCommand({ ...input, TableName: this.table }));
  }

  /** A conditional update; false when the condition did not hold. */
  private async conditional(input: Omit<UpdateItemCommandInput, 'TableName'>): Promise<boolean> {
    try {
      await this.update(input);
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }
}

/** The leases table item of an endpoint's session slot (the drill reads it to say who holds a slot). */
export function slotItemId(endpointId: string, slot: number): string {
  return `session#${endpointId}#${slot}`;
}

function slotKey(endpointId: string, slot: number) {
  return marshall({ partitionId: slotItemId(endpointId, slot) });
}

function queueKey(endpointId: string) {
  return marshall({ partitionId: `session#${endpointId}#queue` });
}
