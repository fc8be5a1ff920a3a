import { DynamoAuditLog } from '../../core/adapters/dynamodb/audit-log';
import { DynamoRouteStore, DynamoScheduleStore } from '../../core/adapters/dynamodb/trigger-store';
import { ManualClock } from '../../core/domain/clock';
import { ConflictError, NotFoundError } from '../../core/domain/errors';
import { newRouteId, newScheduleId } from '../../core/domain/ids';
import type { NewRoute, NewSchedule } from '../../core/domain/ports';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';

let dynamo: TestDynamo;
let audit: DynamoAuditLog;
let routes: DynamoRouteStore;
let schedules: DynamoScheduleStore;
const clock = new ManualClock();

beforeAll(async () => {
  dynamo = await startTestDynamo();
  audit = new DynamoAuditLog(dynamo.db, dynamo.tables.audit, clock);
  routes = new DynamoRouteStore(dynamo.db, dynamo.tables.triggers, audit, clock);
  schedules = new DynamoScheduleStore(dynamo.db, dynamo.tables.triggers, audit, clock);
});
afterAll(() => dynamo.close());

const newRoute = (customerId: string, bucket = 'customer-bucket'): NewRoute => {
  clock.advance(1);
  return {
    routeId: newRouteId(clock.now()),
    customerId,
    name: 'inbound drop',
    enabled: true,
    source: { endpointId: 'ep_src', path: 'inbound', pattern: '*.csv', includeSubfolders: false },
    target: { endpointId: 'ep_dst', path: 'partner/in', createDirectories: true },
    sourceBucket: bucket,
  };
};

const newSchedule = (customerId: string, nextRunAt: string, enabled = true): NewSchedule => {
  clock.advance(1);
  return {
    scheduleId: newScheduleId(clock.now()),
    customerId,
    name: 'partner pickup',
    enabled,
    source: { endpointId: 'ep_sftp', path: 'outbound' },
    target: { endpointId: 'ep_s3', path: 'landing', createDirectories: true },
    timing: { kind: 'rate', everySeconds: 300 },
    minimumFileAgeSeconds: 60,
    afterTransfer: { action: 'LEAVE' },
    nextRunAt,
  };
};

describe('route store', () => {
  it('creates, reads, lists (routes only) and deletes a customer’s routes', async () => {
    const first = await routes.create(newRoute('cust-r'), 'customer:alice');
    expect(first).toMatchObject({ version: 1, routeId: expect.stringMatching(/^rt_[0-9a-z]{26}$/) });
    expect(await routes.get('cust-r', first.routeId)).toEqual(first);
    const second = await routes.create(newRoute('cust-r'), 'customer:alice');
    // A schedule of the same customer is in the same table, never in its route listing.
    await schedules.create(newSchedule('cust-r', '2099-01-01T00:00:00.000Z'), 'customer:alice');

    const one = await routes.list('cust-r', { limit: 1 });
    expect(one.items.map((r) => r.routeId)).toEqual([first.routeId]);
    const rest = await routes.list('cust-r', { limit: 10, cursor: one.nextCursor as string });
    expect(rest.items.map((r) => r.routeId)).toEqual([second.routeId]);
    expect(rest.items[0]).toEqual(second);

    await routes.delete('cust-r', first.routeId, 'customer:alice');
    expect(await routes.get('cust-r', first.routeId)).toBeUndefined();
    await expect(routes.delete('cust-r', first.routeId, 'customer:alice')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('never reads, changes or deletes another customer’s route', async () => {
    const mine = await routes.create(newRoute('cust-a'), 'customer:alice');
    expect(await routes.get('cust-b', mine.routeId)).toBeUndefined();
    expect((await routes.list('cust-b', { limit: 10 })).items).toEqual([]);
    await expect(
      routes.update('cust-b', mine.routeId, 1, { enabled: false }, 'customer:bob', 'route.disabled'),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(routes.delete('cust-b', mine.routeId, 'customer:bob')).rejects.toBeInstanceOf(NotFoundError);
    expect(await routes.get('cust-a', mine.routeId)).toEqual(mine);
  });

  it('applies an update only at the expected version', async () => {
    const route = await routes.create(newRoute('cust-v'), 'customer:alice');
    const updated = await routes.update('cust-v', route.routeId, 1, { name: 'renamed' }, 'customer:alice', 'route.updated');
    expect(updated).toMatchObject({ version: 2, name: 'renamed' });
    await expect(
      routes.update('cust-v', route.routeId, 1, { enabled: false }, 'customer:alice', 'route.disabled'),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await routes.get('cust-v', route.routeId))?.enabled).toBe(true);
  });

  it('finds every customer’s routes of a bucket, and follows a route whose bucket changed', async () => {
    const a = await routes.create(newRoute('cust-x', 'shared-bucket'), 'customer:alice');
    const b = await routes.create(newRoute('cust-y', 'shared-bucket'), 'customer:bob');
    const other = await routes.create(newRoute('cust-x', 'other-bucket'), 'customer:alice');
    expect((await routes.routesForBucket('shared-bucket')).map((r) => r.routeId).sort()).toEqual([a.routeId, b.routeId].sort());
    await routes.update('cust-x', other.routeId, 1, { sourceBucket: 'shared-bucket' }, 'customer:alice', 'route.updated');
    expect((await routes.routesForBucket('shared-bucket')).map((r) => r.routeId).sort()).toEqual(
      [a.routeId, b.routeId, other.routeId].sort(),
    );
    expect(await routes.routesForBucket('other-bucket')).toEqual([]);
    expect(await routes.routesForBucket('no-such-bucket')).toEqual([]);
  });

  it('appends every change to the audit trail with its actor', async () => {
    const route = await routes.create(newRoute('cust-audit'), 'customer:alice');
    clock.advance(1);
    await routes.update('cust-audit', route.routeId, 1, { enabled: false }, 'customer:carol', 'route.disabled');
    clock.advance(1);
    await routes.delete('cust-audit', route.routeId, 'customer:dave');
    const trail = await audit.list(`route#${route.routeId}`, { limit: 10 });
    expect(trail.items.map((e) => [e.action, e.actor, e.customerId])).toEqual([
      ['route.created', 'customer:alice', 'cust-audit'],
      ['route.disabled', 'customer:carol', 'cust-audit'],
      ['route.deleted', 'customer:dave', 'cust-audit'],
    ]);
    expect(trail.items[1]?.details).toMatchObject({ fields: ['enabled'], enabled: false });
  });
});

describe('schedule store', () => {
  // The index is shared by all customers: each test looks for its own schedules in what is due.
  it('lists only enabled schedules that are due, earliest first, at most `limit`', async () => {
    const late = await schedules.create(newSchedule('cust-d', '2031-01-01T00:03:00.000Z'), 'customer:alice');
    const early = await schedules.create(newSchedule('cust-d', '2031-01-01T00:01:00.000Z'), 'customer:alice');
    const off = await schedules.create(newSchedule('cust-d', '2031-01-01T00:00:00.000Z', false), 'customer:alice');
    const future = await schedules.create(newSchedule('cust-e', '2031-01-01T00:10:00.000Z'), 'customer:bob');

    const due = (await schedules.due('2031-01-01T00:05:00.000Z', 10)).filter((s) => s.scheduleId !== off.scheduleId);
    const ids = due.map((s) => s.scheduleId);
    expect(ids.indexOf(early.scheduleId)).toBeLessThan(ids.indexOf(late.scheduleId));
    expect(ids).toContain(late.scheduleId);
    expect(ids).not.toContain(future.scheduleId);
    expect((await schedules.due('2031-01-01T00:05:00.000Z', 10)).map((s) => s.scheduleId)).not.toContain(off.scheduleId);
    expect(due.find((s) => s.scheduleId === early.scheduleId)).toEqual(early);
    expect(await schedules.due('2031-01-01T00:05:00.000Z', 1)).toHaveLength(1);

    // Disabling takes a schedule out of the index; enabling puts it back.
    await schedules.update('cust-d', early.scheduleId, 1, { enabled: false }, 'customer:alice', 'schedule.disabled');
    expect((await schedules.due('2031-01-01T00:05:00.000Z', 10)).map((s) => s.scheduleId)).not.toContain(early.scheduleId);
    await schedules.update('cust-d', off.scheduleId, 1, { enabled: true }, 'customer:alice', 'schedule.enabled');
    expect((await schedules.due('2031-01-01T00:05:00.000Z', 10)).map((s) => s.scheduleId)).toContain(off.scheduleId);
  });

  it('claimRun: of two claimers of the same run, exactly one wins', async () => {
    const schedule = await schedules.create(newSchedule('cust-c', '2032-01-01T00:00:00.000Z'), 'customer:alice');
    const read = (await schedules.due('2032-01-01T00:00:00.000Z', 100)).find((s) => s.scheduleId === schedule.scheduleId);
    expect(read).toEqual(schedule);
    const claimer = read as typeof schedule;
    // Two regions' ticks, each from its own reading, claiming at once.
    const results = await Promise.all([
      schedules.claimRun(claimer, '2032-01-01T00:05:00.000Z'),
      schedules.claimRun({ ...claimer }, '2032-01-01T00:05:00.000Z'),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const after = await schedules.get('cust-c', schedule.scheduleId);
    expect(after).toMatchObject({ nextRunAt: '2032-01-01T00:05:00.000Z', version: 1 });
    // The claimed run is no longer due; a third claimer with the old reading loses too.
    const stillDue = await schedules.due('2032-01-01T00:00:00.000Z', 100);
    expect(stillDue.map((s) => s.scheduleId)).not.toContain(schedule.scheduleId);
    expect(await schedules.claimRun(claimer, '2032-01-01T00:05:00.000Z')).toBe(false);
  });

  it('claimRun refuses a disabled or deleted schedule', async () => {
    const schedule = await schedules.create(newSchedule('cust-f', '2033-01-01T00:00:00.000Z'), 'customer:alice');
    await schedules.update('cust-f', schedule.scheduleId, 1, { enabled: false }, 'customer:alice', 'schedule.disabled');
    expect(await schedules.claimRun(schedule, '2033-01-01T00:05:00.000Z')).toBe(false);
    const other = await schedules.create(newSchedule('cust-f', '2033-01-01T00:00:00.000Z'), 'customer:alice');
    await schedules.delete('cust-f', other.scheduleId, 'customer:alice');
    expect(await schedules.claimRun(other, '2033-01-01T00:05:00.000Z')).toBe(false);
    expect(await schedules.get('cust-f', other.scheduleId)).toBeUndefined();
  });

  it('keeps customers apart and audits every change with its actor', async () => {
    const schedule = await schedules.create(newSchedule('cust-g', '2034-01-01T00:00:00.000Z'), 'customer:alice');
    expect(await schedules.get('cust-h', schedule.scheduleId)).toBeUndefined();
    // A schedule id is never a route's.
    expect(await routes.get('cust-g', schedule.scheduleId)).toBeUndefined();
    await expect(
      schedules.update('cust-h', schedule.scheduleId, 1, { enabled: false }, 'customer:eve', 'schedule.disabled'),
    ).rejects.toBeInstanceOf(NotFoundError);
    clock.advance(1);
    await schedules.update(
      'cust-g',
      schedule.scheduleId,
      1,
      { timing: { kind: 'cron', expression: '0 6 * * 1-5', timeZone: 'America/New_York' } },
      'customer:carol',
      'schedule.updated',
    );
    const trail = await audit.list(`schedule#${schedule.scheduleId}`, { limit: 10 });
    expect(trail.items.map((e) => [e.action, e.actor, e.customerId])).toEqual([
      ['schedule.created', 'customer:alice', 'cust-g'],
      ['schedule.updated', 'customer:carol', 'cust-g'],
    ]);
    expect(trail.items[1]?.details).toMatchObject({ fields: ['timing'] });
  });
});
