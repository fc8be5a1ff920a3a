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
import { sendUntilProcessed } from './client';

const BATCH_WRITE_MAX = 25;
const UNPROCESSED_ATTEMPTS = 6;
/** Batch writes in flight at once, when there are full batches to write. */
const MAX_IN_FLIGHT = 4;
/** A write that ended this recently means events keep coming: the next waits LINGER_MS for more. */
const BUSY_WITHIN_MS = 20;
const LINGER_MS = 5;

interface PendingEvent {
  request: WriteRequest;
  written: () => void;
  failed: (error: unknown) => void;
}

/**
 * Append-only audit trail, one item per event, keyed by subject and a time-ordered id.
 *
 * Events are written by group commit: whatever is appended while a write is under way (the 16 jobs a
 * batch worker has in flight, a request's jobs) goes in the next BatchWriteItem, 25 per request, and
 * each caller's promise settles only once its own events are written, so a caller that goes on (a
 * job store returning a transition) has its event in the table exactly as with one PutItem per
 * event. BatchWriteItem takes no condition; the ids are new (time-ordered, 80 random bits), which is
 * what a condition attribute_not_exists(eventId) would guard. A function whose events may go
 * together needs dynamodb:BatchWriteItem on the table (the state machine's tasks, the worker, the
 * API's job creation and cancellation); one that writes one event at a time, PutItem only.
 */
export class DynamoAuditLog implements AuditLog {
  private pending: PendingEvent[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** When the last batch write ended. */
  private lastWriteAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
    private readonly clock: Clock,
  ) {}

  append(event: AuditEvent): Promise<void> {
    return this.appendAll([event]);
  }

  /** The events, in this order (their ids are time-ordered as they are appended), with whatever else is pending. */
  async appendAll(events: AuditEvent[]): Promise<void> {
    const writes = events.map(
      (event) =>
        new Promise<void>((written, failed) => {
          const record: AuditRecord = { ...event, eventId: timeOrderedId('evt', this.clock.now()) };
          this.pending.push({
            request: { PutRequest: { Item: marshall(record, { removeUndefinedValues: true }) } },
            written,
            failed,
          });
        }),
    );
    this.schedule();
    await Promise.all(writes);
  }

  /**
   * Drains soon: after this turn of the event loop (appends made together, Promise.all of several
   * jobs, go together), or, while writes keep coming (a batch worker's 16 files in flight), a few
   * milliseconds later, so that a request carries more than the few events of one moment.
   */
  private schedule(): void {
    if (this.scheduled || this.pending.length === 0) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.drain();
    };
    const busy = this.clock.now() - this.lastWriteAt < BUSY_WITHIN_MS && this.pending.length < BATCH_WRITE_MAX;
    if (busy) setTimeout(run, LINGER_MS);
    else setImmediate(run);
  }

  /** Starts batch writes: one when none is under way, more while there are full batches waiting. */
  private drain(): void {
    while (
      this.pending.length > 0 &&
      (this.inFlight === 0 || (this.pending.length >= BATCH_WRITE_MAX && this.inFlight < MAX_IN_FLIGHT))
    ) {
      const batch = this.pending.splice(0, BATCH_WRITE_MAX);
      this.inFlight++;
      this.writeBatch(batch.map((p) => p.request))
        .then(
          () => {
            for (const p of batch) p.written();
          },
          (error: unknown) => {
            for (const p of batch) p.failed(error);
          },
        )
        .finally(() => {
          this.inFlight--;
          this.lastWriteAt = this.clock.now();
          if (this.inFlight === 0) this.schedule();
          else this.drain();
        });
    }
  }

  /**
   * Writes a batch, again for what DynamoDB left unprocessed (throttling), with backoff. A batch of
   * one event is a conditional PutItem: what a function that writes one event at a time (an API
   * call's change) is allowed to do, and the condition that its id is new.
   */
  private async writeBatch(batch: WriteRequest[]): Promise<void> {
    const [only] = batch;
    if (batch.length === 1 && only?.PutRequest?.Item) {
      await this.db.send(
        new PutItemCommand({
          TableName: this.table,
          Item: only.PutRequest.Item,
          ConditionExpression: 'attribute_not_exists(eventId)',
        }),
      );
      return;
    }
    await sendUntilProcessed(
      batch,
      async (pending) =>
        (await this.db.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }))).UnprocessedItems?.[
          this.table
        ],
      UNPROCESSED_ATTEMPTS,
      (left) => new Error(`${left} audit events were not written`),
    );
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
