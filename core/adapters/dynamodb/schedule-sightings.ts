import {
  BatchWriteItemCommand,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandOutput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Sighting, SightingStore } from '../../domain/schedule-polls';
import { sendUntilProcessed } from './client';

/** BatchWriteItem's maximum. */
const BATCH = 25;
/** Rounds of retrying what DynamoDB left unprocessed (throttling) before giving up: the poll is then retried by SQS. */
const UNPROCESSED_ROUNDS = 8;

const partitionOf = (scheduleId: string) => `sched#${scheduleId}`;

/**
 * The files each schedule's polls have seen, in the trigger-state table: pk
 * `sched#<scheduleId>`, sk the file's path, with its size, modification time,
 * when it was first seen, and the job that took it. `expiresAt` (TTL) forgets
 * the sightings of a schedule or of files that are gone; a poll also removes
 * those of files no longer listed itself.
 */
export class DynamoSightingStore implements SightingStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
  ) {}

  async list(scheduleId: string): Promise<Sighting[]> {
    const sightings: Sighting[] = [];
    let start: QueryCommandOutput['LastEvaluatedKey'];
    do {
      const page: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: marshall({ ':pk': partitionOf(scheduleId) }),
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const { pk: _pk, sk, ...rest } = unmarshall(item);
        sightings.push({ ...(rest as Omit<Sighting, 'path'>), path: sk as string });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return sightings;
  }

  putMany(scheduleId: string, sightings: readonly Sighting[]): Promise<void> {
    return this.write(
      sightings.map(({ path, ...rest }) => ({
        PutRequest: { Item: marshall({ pk: partitionOf(scheduleId), sk: path, ...rest }, { removeUndefinedValues: true }) },
      })),
    );
  }

  removeMany(scheduleId: string, paths: readonly string[]): Promise<void> {
    return this.write(paths.map((path) => ({ DeleteRequest: { Key: marshall({ pk: partitionOf(scheduleId), sk: path }) } })));
  }

  private async write(requests: WriteRequest[]): Promise<void> {
    for (let i = 0; i < requests.length; i += BATCH) {
      await sendUntilProcessed(
        requests.slice(i, i + BATCH),
        async (pending) =>
          (await this.db.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }))).UnprocessedItems?.[
            this.table
          ],
        UNPROCESSED_ROUNDS,
        (left) => new Error(`DynamoDB left ${left} sighting writes unprocessed`),
      );
    }
  }
}
