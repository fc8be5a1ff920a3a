import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Clock } from '../../domain/clock';
import type { ObjectEventMarks } from '../../domain/ports';
import { isConditionFailed } from './client';

/**
 * How long a key's mark is kept (DynamoDB TTL on expiresAt): longer than any
 * event can stay in flight (EventBridge retries for 24 hours, the queue keeps
 * a message 4 days, the DLQ 14, and a redrive from the DLQ brings it back).
 * After that an older event of the key is no longer recognised as stale, but
 * its job is still found by its idempotency key if it was ever created.
 */
export const MARK_TTL_SECONDS = 30 * 24 * 3600;

/**
 * Sequencer marks of S3 object keys in the trigger-state table: item
 * `pk = obj#<bucket>#<key>`, `sk = mark`, with the highest `sequencer` seen
 * (already left-padded to a fixed width by the caller, so DynamoDB's string
 * order is the sequencers' numeric order). One conditional UpdateItem per
 * event: it raises the mark unless a higher one is there, and returns the
 * value it replaced, which tells a duplicate from a newer event.
 *
 * The table is global: both regions process the same event (the customer
 * forwards it to both), and each region's write is conditional in that
 * region only. An equal sequencer proceeds, so whichever region comes second
 * still reaches the idempotent job create (the same job).
 */
export class DynamoObjectEventMarks implements ObjectEventMarks {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
    private readonly clock: Clock,
  ) {}

  async advance(bucket: string, key: string, sequencer: string): Promise<'newer' | 'same' | 'stale'> {
    try {
      const result = await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall({ pk: `obj#${bucket}#${key}`, sk: 'mark' }),
          UpdateExpression: 'SET sequencer = :sequencer, expiresAt = :expiresAt',
          ConditionExpression: 'attribute_not_exists(sequencer) OR sequencer <= :sequencer',
          ExpressionAttributeValues: marshall({
            ':sequencer': sequencer,
            ':expiresAt': Math.floor(this.clock.now() / 1000) + MARK_TTL_SECONDS,
          }),
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      const previous = result.Attributes ? (unmarshall(result.Attributes).sequencer as string | undefined) : undefined;
      return previous === sequencer ? 'same' : 'newer';
    } catch (error) {
      if (isConditionFailed(error)) return 'stale';
      throw error;
    }
  }
}
