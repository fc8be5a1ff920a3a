import type { ApiClient } from '../../local/api-client';
import { startTestEngine, type TestEngine } from '../support/local-engine';

/**
 * The schedule API over HTTP through the local engine: CRUD, enable/disable
 * (in and out of the engine's due index), timing (rate due at once, cron in
 * its time zone), every bad input a 400 naming the field with nothing stored,
 * another customer's schedules and endpoints refused, the audit trail.
 */
let engine: TestEngine;
let alice: ApiClient;
let bob: ApiClient;
let alicePrincipal: string;

const ids = { sftpOut: '', sftpIn: '', sftpBoth: '', s3Out: '', s3In: '', bobSftp: '', bobS3: '' };

const sftp = (direction: string, basePath = '/exchange') => ({
  type: 'SFTP',
  name: `partner ${direction}`,
  direction,
  sftp: { host: 'sftp.partner.example', port: 22, username: 'eft', basePath },
  credentials: { password: 'correct horse battery staple' },
});
const s3 = (bucket: string, direction: string) => ({
  type: 'S3',
  name: `${bucket} ${direction}`,
  direction,
  s3: { bucket, prefix: 'in/', region: 'us-gov-west-1' },
});

async function endpoint(client: ApiClient, body: Record<string, unknown>): Promise<string> {
  const created = await client.post('/endpoints', body);
  expect(created.status).toBe(201);
  return created.body.id;
}

beforeAll(async () => {
  // The AWS minimum, whatever the local runtime's default: the rate floor is under test. The tick would
  // claim due schedules (moving their nextRunAt) under the assertions on it: it first ticks after an hour.
  engine = await startTestEngine({ SCHEDULE_MIN_RATE_SECONDS: '60' }, { scheduleTickSeconds: 3600 });
  alice = engine.alice.west;
  bob = engine.bob.west;
  alicePrincipal = engine.stack.info.customers.find((c) => c.customerId === 'customer-a')?.principalArn ?? '';
  ids.sftpOut = await endpoint(alice, sftp('OUTBOUND'));
  ids.sftpIn = await endpoint(alice, sftp('INBOUND'));
  // The same server, user and base path as sftpOut: the same files.
  ids.sftpBoth = await endpoint(alice, sftp('BOTH'));
  ids.s3Out = await endpoint(alice, s3('customer-a-outbox', 'OUTBOUND'));
  ids.s3In = await endpoint(alice, s3('customer-a-inbox', 'INBOUND'));
  ids.bobSftp = await endpoint(bob, sftp('BOTH'));
  ids.bobS3 = await endpoint(bob, s3('customer-b-inbox', 'BOTH'));
}, 120_000);
afterAll(() => engine.close());

type Changes = { source?: Record<string, unknown>; target?: Record<string, unknown> } & Record<string, unknown>;
const schedule = (changes: Changes = {}) => ({
  name: 'nightly pickup',
  timing: { kind: 'rate', everySeconds: 300 },
  ...changes,
  source: { endpointId: ids.sftpOut, path: 'outbound', pattern: '*.csv', ...changes.source },
  target: { endpointId: ids.s3In, path: 'landing', ...changes.target },
});

async function scheduleIds(client: ApiClient): Promise<string[]> {
  const listed = await client.get('/schedules?limit=100');
  expect(listed.status).toBe(200);
  return listed.body.items.map((s: { id: string }) => s.id);
}

/** The ids of the schedules the engine's tick would find due at `at`. */
async function dueIds(at = new Date(Date.now() + 1000).toISOString()): Promise<string[]> {
  return (await engine.stores.schedules.due(at, 1000)).map((s) => s.scheduleId);
}

describe('schedules: create, read, list, change, enable/disable, delete', () => {
  it('creates a rate schedule with its defaults, due at once', async () => {
    const before = Date.now();
    const created = await alice.post('/schedules', schedule());
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^sc_[0-9a-z]{26}$/),
      name: 'nightly pickup',
      enabled: true,
      source: { endpointId: ids.sftpOut, path: 'outbound', pattern: '*.csv' },
      target: { endpointId: ids.s3In, path: 'landing', createDirectories: true },
      timing: { kind: 'rate', everySeconds: 300 },
      minimumFileAgeSeconds: 0,
      afterTransfer: { action: 'LEAVE' },
      nextRunAt: expect.any(String),
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      version: 1,
    });
    const nextRunAt = Date.parse(created.body.nextRunAt);
    expect(nextRunAt).toBeGreaterThanOrEqual(before - 1000);
    expect(nextRunAt).toBeLessThanOrEqual(Date.now());
    expect((await alice.get(`/schedules/${created.body.id}`)).body).toEqual(created.body);
    expect(await scheduleIds(alice)).toContain(created.body.id);
    expect(await dueIds()).toContain(created.body.id);
  });

  it('a cron schedule is next due at its next time in its time zone', async () => {
    const created = await alice.post(
      '/schedules',
      schedule({
        timing: { kind: 'cron', expression: '30 6 * * *', timeZone: 'America/New_York' },
        afterTransfer: { action: 'MOVE', archivePath: 'outbound/archive' },
        minimumFileAgeSeconds: 120,
      }),
    );
    expect(created.status).toBe(201);
    const next = new Date(created.body.nextRunAt);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime()).toBeLessThanOrEqual(Date.now() + 25 * 3600_000);
    const local = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'America/New_York',
      hour: '2-digit',
      minute: '2-digit',
    }).format(next);
    expect(local).toBe('06:30');
    expect(created.body.afterTransfer).toEqual({ action: 'MOVE', archivePath: 'outbound/archive' });
    expect(await dueIds()).not.toContain(created.body.id);
  });

  it('changes, disables, enables and deletes a schedule, each change audited with the actor', async () => {
    const { id } = (await alice.post('/schedules', schedule())).body;
    const changed = await alice.patch(`/schedules/${id}`, {
      timing: { kind: 'cron', expression: '0 2 * * 1', timeZone: 'UTC' },
      afterTransfer: { action: 'DELETE' },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ version: 2, afterTransfer: { action: 'DELETE' } });
    expect(new Date(changed.body.nextRunAt).getUTCDay()).toBe(1);
    expect(await dueIds()).not.toContain(id);

    const disabled = await alice.patch(`/schedules/${id}`, { enabled: false });
    expect(disabled.body).toMatchObject({ enabled: false, version: 3 });
    expect(disabled.body.nextRunAt).toBeUndefined();
    // Out of the tick's index even far in the future.
    expect(await dueIds('2999-01-01T00:00:00.000Z')).not.toContain(id);

    await alice.patch(`/schedules/${id}`, { timing: { kind: 'rate', everySeconds: 60 } });
    expect(await dueIds()).not.toContain(id);
    const enabled = await alice.patch(`/schedules/${id}`, { enabled: true });
    expect(enabled.body).toMatchObject({ enabled: true, version: 5, nextRunAt: expect.any(String) });
    expect(await dueIds()).toContain(id);

    const deleted = await alice.delete(`/schedules/${id}`);
    expect(deleted.status).toBe(200);
    expect((await alice.get(`/schedules/${id}`)).status).toBe(404);
    expect(await scheduleIds(alice)).not.toContain(id);
    expect(await dueIds()).not.toContain(id);

    const trail = await engine.stores.audit.list(`schedule#${id}`, { limit: 20 });
    expect(trail.items.map((e) => [e.action, e.actor, e.customerId])).toEqual([
      ['schedule.created', alicePrincipal, 'customer-a'],
      ['schedule.updated', alicePrincipal, 'customer-a'],
      ['schedule.disabled', alicePrincipal, 'customer-a'],
      ['schedule.updated', alicePrincipal, 'customer-a'],
      ['schedule.enabled', alicePrincipal, 'customer-a'],
      ['schedule.deleted', alicePrincipal, 'customer-a'],
    ]);
  });

  it('a schedule created disabled is never due', async () => {
    const created = await alice.post('/schedules', schedule({ enabled: false }));
    expect(created.status).toBe(201);
    expect(await dueIds('2999-01-01T00:00:00.000Z')).not.toContain(created.body.id);
  });
});

describe('bad input to POST /schedules is a 400 naming the field, and nothing is stored', () => {
  it.each<[string, () => unknown, string]>([
    [
      'a cron that never fires (February 30th)',
      () => schedule({ timing: { kind: 'cron', expression: '0 0 30 2 *' } }),
      'timing.expression',
    ],
    ['a cron with six fields', () => schedule({ timing: { kind: 'cron', expression: '0 0 6 * * *' } }), 'timing.expression'],
    ['a cron that is no cron', () => schedule({ timing: { kind: 'cron', expression: 'every day' } }), 'timing.expression'],
    [
      'an unknown time zone',
      () => schedule({ timing: { kind: 'cron', expression: '0 6 * * *', timeZone: 'Mars/Olympus' } }),
      'timing.timeZone',
    ],
    ['a rate below the minimum', () => schedule({ timing: { kind: 'rate', everySeconds: 59 } }), 'timing.everySeconds'],
    ['a fractional rate', () => schedule({ timing: { kind: 'rate', everySeconds: 90.5 } }), 'timing.everySeconds'],
    ['an unknown timing kind', () => schedule({ timing: { kind: 'weekly' } }), 'timing.kind'],
    ['another customer’s source endpoint', () => schedule({ source: { endpointId: ids.bobSftp } }), 'source.endpointId'],
    ['another customer’s target endpoint', () => schedule({ target: { endpointId: ids.bobS3 } }), 'target.endpointId'],
    ['an INBOUND endpoint as source', () => schedule({ source: { endpointId: ids.sftpIn } }), 'source.endpointId'],
    ['an OUTBOUND endpoint as target', () => schedule({ target: { endpointId: ids.s3Out } }), 'target.endpointId'],
    [
      'an S3 endpoint as source (schedules poll SFTP)',
      () => schedule({ source: { endpointId: ids.s3Out } }),
      'source.endpointId',
    ],
    ['a pattern that needs a name of 256 characters', () => schedule({ source: { pattern: 'x'.repeat(256) } }), 'source.pattern'],
    [
      'archiving into the polled folder',
      () => schedule({ afterTransfer: { action: 'MOVE', archivePath: 'outbound/' } }),
      'afterTransfer.archivePath',
    ],
    [
      'a traversing archive path',
      () => schedule({ afterTransfer: { action: 'MOVE', archivePath: 'outbound/../../../etc' } }),
      'afterTransfer.archivePath',
    ],
    ['MOVE without an archive path', () => schedule({ afterTransfer: { action: 'MOVE' } }), 'afterTransfer.archivePath'],
    [
      'a target that is the polled folder (the same server)',
      () => schedule({ target: { endpointId: ids.sftpBoth, path: 'outbound' } }),
      'target.path',
    ],
    ['a traversing source path', () => schedule({ source: { path: '../../etc' } }), 'source.path'],
    ['a traversing target path', () => schedule({ target: { path: 'landing/../../x' } }), 'target.path'],
    ['a negative minimum file age', () => schedule({ minimumFileAgeSeconds: -1 }), 'minimumFileAgeSeconds'],
    ['a next run in the body', () => ({ ...schedule(), nextRunAt: '2020-01-01T00:00:00Z' }), 'nextRunAt'],
  ])('%s', async (_case, body, field) => {
    const before = await scheduleIds(alice);
    const response = await alice.post('/schedules', body());
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
    expect(response.body.error.fields.map((f: { field: string }) => f.field)).toContain(field);
    expect(await scheduleIds(alice)).toEqual(before);
  });

  it('the same target folder on another server, or an archive beside the polled folder, is fine', async () => {
    const elsewhere = await endpoint(alice, {
      ...sftp('INBOUND'),
      sftp: { ...sftp('INBOUND').sftp, host: 'other.partner.example' },
    });
    const ok = await alice.post(
      '/schedules',
      schedule({
        target: { endpointId: elsewhere, path: 'outbound' },
        afterTransfer: { action: 'MOVE', archivePath: 'archive' },
      }),
    );
    expect(ok.status).toBe(201);
  });
});

describe('bad input to the other schedule operations', () => {
  let id: string;
  beforeAll(async () => {
    id = (await alice.post('/schedules', schedule())).body.id;
  });

  it.each<[string, () => unknown, string]>([
    ['an empty PATCH', () => ({}), 'body'],
    ['a cron that never fires', () => ({ timing: { kind: 'cron', expression: '0 0 31 4 *' } }), 'timing.expression'],
    ['a rate below the minimum', () => ({ timing: { kind: 'rate', everySeconds: 1 } }), 'timing.everySeconds'],
    [
      'archiving into the polled folder',
      () => ({ afterTransfer: { action: 'MOVE', archivePath: 'outbound' } }),
      'afterTransfer.archivePath',
    ],
    ['another customer’s target', () => ({ target: { endpointId: ids.bobS3, path: 'x' } }), 'target.endpointId'],
  ])('PATCH with %s is a 400 and changes nothing', async (_case, body, field) => {
    const before = await alice.get(`/schedules/${id}`);
    const response = await alice.patch(`/schedules/${id}`, body());
    expect(response.status).toBe(400);
    expect(response.body.error.fields.map((f: { field: string }) => f.field)).toContain(field);
    expect(await alice.get(`/schedules/${id}`)).toEqual(before);
  });

  it('refuses a malformed schedule id, and a route id', async () => {
    expect((await alice.get('/schedules/sc_..%2F..')).body.error.fields[0].field).toBe('path.scheduleId');
    expect((await alice.get(`/schedules/rt_${'0'.repeat(26)}`)).status).toBe(400);
  });
});

describe('another customer’s schedules', () => {
  it('are 404 to read, change or delete, and never listed; the schedule stays as it was', async () => {
    const { id } = (await alice.post('/schedules', schedule())).body;
    const before = await alice.get(`/schedules/${id}`);
    for (const client of [bob, engine.bob.east]) {
      expect((await client.get(`/schedules/${id}`)).status).toBe(404);
      expect((await client.patch(`/schedules/${id}`, { enabled: false })).status).toBe(404);
      expect((await client.delete(`/schedules/${id}`)).status).toBe(404);
      expect(await scheduleIds(client)).not.toContain(id);
    }
    expect(await alice.get(`/schedules/${id}`)).toEqual(before);
    expect(await dueIds()).toContain(id);
  });
});
