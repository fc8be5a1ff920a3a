import {
  BatchWriteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AuditEvent, AuditRecord } from '../../domain/audit';
import type { Clock } from '../../domain/clock';
import { ValidationError } from '../../domain/errors';
import { timeOrderedId } from '../../domain/ids';
import type { AuditLog, Page, PageRequest } from '../../domain/ports';

const BATCH_WRITE_MAX = 25;
const UNPROCESSED_ATTEMPTS = 6;

/** Append-only audit trail, one item per event, keyed by subject and a time-ordered id. */
export class DynamoAuditLog implements AuditLog {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
    private readonly clock: Clock,
  ) {}

  async append(event: AuditEvent): Promise<void> {
    const record: AuditRecord = { ...event, eventId: timeOrderedId('evt', this.clock.now()) };
    await this.db.send(
      new PutItemCommand({
        TableName: this.table,
        Item: marshall(record, { removeUndefinedValues: true }),
        // Append-only: an event id is never written twice.
        ConditionExpression: 'attribute_not_exists(eventId)',
      }),
    );
  }

  /**
   * BatchWriteItem, 25 events per request: a folder's jobs make 2 events each,
   * which one by one were two of every three requests of job creation.
   * BatchWriteItem takes no condition; the ids are new (time-ordered, 80 random
   * bits), which is what the condition of append() guards.
   */
  async appendAll(events: AuditEvent[]): Promise<void> {
    const requests: WriteRequest[] = events.map((event) => ({
      PutRequest: {
        Item: marshall({ ...event, eventId: timeOrderedId('evt', this.clock.now()) }, { removeUndefinedValues: true }),
      },
    }));
    for (let start = 0; start < requests.length; start += BATCH_WRITE_MAX) {
      await this.writeBatch(requests.slice(start, start + BATCH_WRITE_MAX));
    }
  }

  /** Writes a batch, again for what DynamoDB left unprocessed (throttling), with backoff. */
  private async writeBatch(batch: WriteRequest[]): Promise<void> {
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt === UNPROCESSED_ATTEMPTS) throw new Error(`${pending.length} audit events were not written`);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      const result = await this.db.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }));
      pending = result.UnprocessedItems?.[this.table] ?? [];
    }
  }

  async list(subject: AuditEvent['subject'], page: PageRequest): Promise<Page<AuditRecord>> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'subject = :subject',
        ExpressionAttributeValues: marshall({ ':subject': subject }),
        Limit: page.limit,
        ExclusiveStartKey: page.cursor ? decodeAuditCursor(page.cursor, subject) : undefined,
      }),
    );
    const last = result.LastEvaluatedKey ? unmarshall(result.LastEvaluatedKey) : undefined;
    return {
      items: (result.Items ?? []).map((item) => unmarshall(item) as AuditRecord),
      ...(last ? { nextCursor: Buffer.from(String(last.eventId)).toString('base64url') } : {}),
    };
  }
}

function decodeAuditCursor(cursor: string, subject: string) {
  const eventId = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^evt_[0-9a-z]{26}$/.test(eventId))
    throw new ValidationError([{ field: 'cursor', message: 'is not a cursor this API issued' }]);
  return marshall({ subject, eventId });
}
