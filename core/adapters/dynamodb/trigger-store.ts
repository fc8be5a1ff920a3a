import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AuditEvent } from '../../domain/audit';
import type { Clock } from '../../domain/clock';
import { ConflictError, NotFoundError } from '../../domain/errors';
import type {
  AuditLog,
  NewRoute,
  NewSchedule,
  Page,
  PageRequest,
  RouteChanges,
  RouteStore,
  ScheduleChanges,
  ScheduleStore,
} from '../../domain/ports';
import type { Route, Schedule } from '../../domain/triggers';
import { isConditionFailed } from './client';
import { CursorCodec } from './pagination';
import { versionedUpdate } from './versioned-update';

/** The index of routes by their source endpoint's bucket (only routes carry sourceBucket: sparse). */
export const BY_SOURCE_BUCKET_INDEX = 'bySourceBucket';
/** The index of enabled schedules by nextRunAt (only they carry dueShard: sparse). */
export const BY_DUE_INDEX = 'byDue';
/** The one value of dueShard: every enabled schedule is in the same partition of byDue, ordered by nextRunAt. */
export const DUE_SHARD = 'due';

/** Item attributes that only the table needs: the sort key (the route's or schedule's id) and the byDue partition. */
type Stored<T> = T & { triggerId: string; dueShard?: string };

function fromItem<T>(item: Record<string, AttributeValue>): T {
  const { triggerId: _id, dueShard: _shard, ...rest } = unmarshall(item) as Stored<T>;
  return rest as T;
}

/** What differs between routes and schedules in the one table. */
interface Kind<T, New, Changes> {
  /** The audit subject's prefix and the actions' (route.created, schedule.updated...). */
  noun: 'route' | 'schedule';
  /** The sort-key prefix of this kind's ids. */
  idPrefix: string;
  idOf(trigger: New): string;
  /** Attributes the table derives from the item (dueShard), on create. */
  derived(trigger: New): Record<string, unknown>;
  /** Attributes the table derives from a change: what to set, and what to remove. */
  derivedChange(changes: Changes): { set: Record<string, unknown>; remove: string[] };
  summary(trigger: T): Record<string, unknown>;
}

/**
 * Routes and schedules share one table, keyed by (customerId, triggerId): every
 * read and write by the API names the customer, so one customer's request
 * cannot reach another's. Writes are conditional on `version`, like endpoints',
 * and every change is appended to the audit trail with its actor.
 */
class DynamoTriggerStore<T extends { customerId: string; version: number }, New, Changes extends object> {
  constructor(
    protected readonly db: DynamoDBClient,
    protected readonly table: string,
    private readonly audit: AuditLog,
    protected readonly clock: Clock,
    private readonly cursors: CursorCodec,
    private readonly kind: Kind<T, New, Changes>,
  ) {}

  private subject(id: string): AuditEvent['subject'] {
    return `${this.kind.noun}#${id}`;
  }

  protected async createTrigger(input: New & { customerId: string }, actor: string): Promise<T> {
    const now = new Date(this.clock.now()).toISOString();
    const trigger = { ...input, createdAt: now, updatedAt: now, version: 1 } as unknown as T;
    const id = this.kind.idOf(input);
    await this.db.send(
      new PutItemCommand({
        TableName: this.table,
        Item: marshall({ ...trigger, triggerId: id, ...this.kind.derived(input) }, { removeUndefinedValues: true }),
        ConditionExpression: 'attribute_not_exists(triggerId)',
      }),
    );
    await this.audit.append({
      subject: this.subject(id),
      customerId: input.customerId,
      actor,
      action: `${this.kind.noun}.created`,
      at: now,
      details: this.kind.summary(trigger),
    });
    return trigger;
  }

  protected async getTrigger(customerId: string, id: string): Promise<T | undefined> {
    if (!id.startsWith(this.kind.idPrefix)) return undefined;
    const result = await this.db.send(
      new GetItemCommand({ TableName: this.table, Key: marshall({ customerId, triggerId: id }), ConsistentRead: true }),
    );
    return result.Item ? fromItem<T>(result.Item) : undefined;
  }

  protected async listTriggers(customerId: string, page: PageRequest): Promise<Page<T>> {
    const scope = { customerId, listing: `${this.kind.noun}s` };
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'customerId = :customerId AND begins_with(triggerId, :prefix)',
        ExpressionAttributeValues: marshall({ ':customerId': customerId, ':prefix': this.kind.idPrefix }),
        Limit: page.limit,
        ExclusiveStartKey: await this.cursors.decode(scope, page.cursor),
      }),
    );
    const nextCursor = await this.cursors.encode(scope, result.LastEvaluatedKey);
    return { items: (result.Items ?? []).map((i) => fromItem<T>(i)), ...(nextCursor ? { nextCursor } : {}) };
  }

  protected async updateTrigger(
    customerId: string,
    id: string,
    expectedVersion: number,
    changes: Changes,
    actor: string,
    action: string,
  ): Promise<T> {
    if (!id.startsWith(this.kind.idPrefix)) throw new NotFoundError(`${this.kind.noun} ${id} not found`);
    const now = new Date(this.clock.now()).toISOString();
    const derived = this.kind.derivedChange(changes);
    const all: [string, unknown][] = [
      ...Object.entries(changes),
      ...Object.entries(derived.set),
      ...derived.remove.map((field): [string, unknown] => [field, undefined]),
    ];
    try {
      const result = await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall({ customerId, triggerId: id }),
          ...versionedUpdate(all, { idAttribute: 'triggerId', expectedVersion, now }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      const trigger = fromItem<T>(result.Attributes ?? {});
      await this.audit.append({
        subject: this.subject(id),
        customerId,
        actor,
        action,
        at: now,
        details: { fields: Object.keys(changes).sort(), ...this.kind.summary(trigger) },
      });
      return trigger;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const current = await this.getTrigger(customerId, id);
      if (!current) throw new NotFoundError(`${this.kind.noun} ${id} not found`);
      throw new ConflictError(
        `${this.kind.noun} ${id} was changed concurrently (now version ${current.version}); retry`,
        'VERSION_CONFLICT',
      );
    }
  }

  protected async deleteTrigger(customerId: string, id: string, actor: string): Promise<void> {
    if (!id.startsWith(this.kind.idPrefix)) throw new NotFoundError(`${this.kind.noun} ${id} not found`);
    try {
      await this.db.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: marshall({ customerId, triggerId: id }),
          ConditionExpression: 'attribute_exists(triggerId)',
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) throw new NotFoundError(`${this.kind.noun} ${id} not found`);
      throw error;
    }
    await this.audit.append({
      subject: this.subject(id),
      customerId,
      actor,
      action: `${this.kind.noun}.deleted`,
      at: new Date(this.clock.now()).toISOString(),
    });
  }

  /** Every item of a query on an index, page by page (DynamoDB returns at most 1 MB per request). */
  protected async queryAll(
    input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'ExclusiveStartKey'>,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<T[]> {
    const items: T[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          ...input,
          ...(Number.isFinite(limit) ? { Limit: limit - items.length } : {}),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(result.Items ?? []).map((i) => fromItem<T>(i)));
      start = result.LastEvaluatedKey;
    } while (start && items.length < limit);
    return items;
  }
}

const ROUTE: Kind<Route, NewRoute, RouteChanges> = {
  noun: 'route',
  idPrefix: 'rt_',
  idOf: (route) => route.routeId,
  derived: () => ({}),
  derivedChange: () => ({ set: {}, remove: [] }),
  summary: (route) => ({
    enabled: route.enabled,
    source: route.source.endpointId,
    target: route.target.endpointId,
  }),
};

/**
 * Routes: items `rt_<26>` of the triggers table, with `sourceBucket` indexed
 * (bySourceBucket) so an S3 event finds its routes without knowing the customer.
 */
export class DynamoRouteStore extends DynamoTriggerStore<Route, NewRoute, RouteChanges> implements RouteStore {
  constructor(db: DynamoDBClient, table: string, audit: AuditLog, clock: Clock, cursors = CursorCodec.forThisProcessOnly()) {
    super(db, table, audit, clock, cursors, ROUTE);
  }

  create(route: NewRoute, actor: string): Promise<Route> {
    return this.createTrigger(route, actor);
  }

  get(customerId: string, routeId: string): Promise<Route | undefined> {
    return this.getTrigger(customerId, routeId);
  }

  list(customerId: string, page: PageRequest): Promise<Page<Route>> {
    return this.listTriggers(customerId, page);
  }

  update(
    customerId: string,
    routeId: string,
    expectedVersion: number,
    changes: RouteChanges,
    actor: string,
    action: string,
  ): Promise<Route> {
    return this.updateTrigger(customerId, routeId, expectedVersion, changes, actor, action);
  }

  delete(customerId: string, routeId: string, actor: string): Promise<void> {
    return this.deleteTrigger(customerId, routeId, actor);
  }

  /** From the index, which is eventually consistent: a route written a moment ago may be missed by an event that races it. */
  routesForBucket(bucket: string): Promise<Route[]> {
    return this.queryAll({
      TableName: this.table,
      IndexName: BY_SOURCE_BUCKET_INDEX,
      KeyConditionExpression: 'sourceBucket = :bucket',
      ExpressionAttributeValues: marshall({ ':bucket': bucket }),
    });
  }
}

const SCHEDULE: Kind<Schedule, NewSchedule, ScheduleChanges> = {
  noun: 'schedule',
  idPrefix: 'sc_',
  idOf: (schedule) => schedule.scheduleId,
  derived: (schedule) => (schedule.enabled ? { dueShard: DUE_SHARD } : {}),
  derivedChange: (changes) =>
    changes.enabled === undefined
      ? { set: {}, remove: [] }
      : changes.enabled
        ? { set: { dueShard: DUE_SHARD }, remove: [] }
        : { set: {}, remove: ['dueShard'] },
  summary: (schedule) => ({
    enabled: schedule.enabled,
    source: schedule.source.endpointId,
    target: schedule.target.endpointId,
    timing: schedule.timing,
  }),
};

/**
 * Schedules: items `sc_<26>` of the triggers table. An enabled one carries
 * dueShard = "due", which puts it in the byDue index ordered by nextRunAt;
 * disabling removes the attribute, and with it the schedule from the index.
 */
export class DynamoScheduleStore extends DynamoTriggerStore<Schedule, NewSchedule, ScheduleChanges> implements ScheduleStore {
  constructor(db: DynamoDBClient, table: string, audit: AuditLog, clock: Clock, cursors = CursorCodec.forThisProcessOnly()) {
    super(db, table, audit, clock, cursors, SCHEDULE);
  }

  create(schedule: NewSchedule, actor: string): Promise<Schedule> {
    return this.createTrigger(schedule, actor);
  }

  get(customerId: string, scheduleId: string): Promise<Schedule | undefined> {
    return this.getTrigger(customerId, scheduleId);
  }

  list(customerId: string, page: PageRequest): Promise<Page<Schedule>> {
    return this.listTriggers(customerId, page);
  }

  update(
    customerId: string,
    scheduleId: string,
    expectedVersion: number,
    changes: ScheduleChanges,
    actor: string,
    action: string,
  ): Promise<Schedule> {
    return this.updateTrigger(customerId, scheduleId, expectedVersion, changes, actor, action);
  }

  delete(customerId: string, scheduleId: string, actor: string): Promise<void> {
    return this.deleteTrigger(customerId, scheduleId, actor);
  }

  /** From the index (eventually consistent): a schedule read here stale is refused by claimRun's condition. */
  due(now: string, limit: number): Promise<Schedule[]> {
    if (limit <= 0) return Promise.resolve([]);
    return this.queryAll(
      {
        TableName: this.table,
        IndexName: BY_DUE_INDEX,
        KeyConditionExpression: 'dueShard = :due AND nextRunAt <= :now',
        ExpressionAttributeValues: marshall({ ':due': DUE_SHARD, ':now': now }),
        ScanIndexForward: true,
      },
      limit,
    );
  }

  /**
   * One conditional write on the item itself (not the index): nextRunAt must
   * still be the value read and the schedule still enabled. Neither `version`
   * nor updatedAt change: the run's bookkeeping is the engine's, and counting it
   * as a change would make a customer's concurrent PATCH fail every minute.
   */
  async claimRun(schedule: Schedule, next: string): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall({ customerId: schedule.customerId, triggerId: schedule.scheduleId }),
          UpdateExpression: 'SET nextRunAt = :next',
          ConditionExpression: 'nextRunAt = :read AND dueShard = :due',
          ExpressionAttributeValues: marshall({ ':next': next, ':read': schedule.nextRunAt, ':due': DUE_SHARD }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }
}
