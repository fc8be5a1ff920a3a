import type { ApiClient } from '../../local/api-client';
import { startTestEngine, type TestEngine } from '../support/local-engine';

/**
 * The route API over HTTP through the local engine (API Gateway stand-in,
 * SigV4, the real handlers and DynamoDB): CRUD, enable/disable, every bad
 * input a 400 naming the field with nothing stored, another customer's routes
 * and endpoints refused, the audit trail with the actor.
 */
let engine: TestEngine;
let alice: ApiClient;
let bob: ApiClient;
let alicePrincipal: string;

/** alice's endpoints (PENDING: a route may name an endpoint before it is validated). */
const ids = { s3Out: '', s3In: '', s3BothSameBucket: '', sftpOut: '', sftpIn: '', bobS3: '' };
const MISSING = `ep_${'0'.repeat(26)}`;

const s3 = (bucket: string, prefix: string, direction: string) => ({
  type: 'S3',
  name: `${bucket} ${direction}`,
  direction,
  s3: { bucket, prefix, region: 'us-gov-west-1' },
});
const sftp = (direction: string) => ({
  type: 'SFTP',
  name: `partner ${direction}`,
  direction,
  sftp: { host: 'sftp.partner.example', port: 22, username: 'eft', basePath: '/exchange' },
  credentials: { password: 'correct horse battery staple' },
});

async function endpoint(client: ApiClient, body: Record<string, unknown>): Promise<string> {
  const created = await client.post('/endpoints', body);
  expect(created.status).toBe(201);
  return created.body.id;
}

beforeAll(async () => {
  engine = await startTestEngine();
  alice = engine.alice.west;
  bob = engine.bob.west;
  alicePrincipal = engine.stack.info.customers.find((c) => c.customerId === 'customer-a')?.principalArn ?? '';
  ids.s3Out = await endpoint(alice, s3('customer-a-outbox', 'out/', 'OUTBOUND'));
  ids.s3In = await endpoint(alice, s3('customer-a-inbox', 'in/', 'INBOUND'));
  // Another endpoint of alice's on the source bucket, at its root: where a target can land inside the source folder.
  ids.s3BothSameBucket = await endpoint(alice, s3('customer-a-outbox', '', 'BOTH'));
  ids.sftpOut = await endpoint(alice, sftp('OUTBOUND'));
  ids.sftpIn = await endpoint(alice, sftp('INBOUND'));
  ids.bobS3 = await endpoint(bob, s3('customer-b-outbox', 'out/', 'BOTH'));
}, 120_000);
afterAll(() => engine.close());

const route = (
  changes: { source?: Record<string, unknown>; target?: Record<string, unknown> } & Record<string, unknown> = {},
) => ({
  name: 'outbox to partner',
  ...changes,
  source: { endpointId: ids.s3Out, path: 'drop', pattern: '*.csv', ...changes.source },
  target: { endpointId: ids.sftpIn, path: 'incoming', ...changes.target },
});

async function routeIds(client: ApiClient): Promise<string[]> {
  const listed = await client.get('/routes?limit=100');
  expect(listed.status).toBe(200);
  return listed.body.items.map((r: { id: string }) => r.id);
}

describe('routes: create, read, list, change, enable/disable, delete', () => {
  it('creates a route with its defaults, reads and lists it, and the engine finds it by its bucket', async () => {
    const created = await alice.post('/routes', route());
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^rt_[0-9a-z]{26}$/),
      name: 'outbox to partner',
      enabled: true,
      source: { endpointId: ids.s3Out, path: 'drop', pattern: '*.csv', includeSubfolders: false },
      target: { endpointId: ids.sftpIn, path: 'incoming', createDirectories: true },
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      version: 1,
    });
    expect((await alice.get(`/routes/${created.body.id}`)).body).toEqual(created.body);
    expect(await routeIds(alice)).toContain(created.body.id);
    // How an S3 event of the bucket finds it (the bySourceBucket index).
    const forBucket = await engine.stores.routes.routesForBucket('customer-a-outbox');
    expect(forBucket.map((r) => r.routeId)).toContain(created.body.id);
  });

  it('changes, disables, enables and deletes a route, each change in the audit trail with the actor', async () => {
    const { id } = (await alice.post('/routes', route())).body;
    const renamed = await alice.patch(`/routes/${id}`, { name: 'renamed', target: { endpointId: ids.s3In, path: 'landing' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({
      name: 'renamed',
      version: 2,
      target: { endpointId: ids.s3In, path: 'landing', createDirectories: true },
    });
    const disabled = await alice.patch(`/routes/${id}`, { enabled: false });
    expect(disabled.body).toMatchObject({ enabled: false, version: 3 });
    expect((await alice.get(`/routes/${id}`)).body.enabled).toBe(false);
    const enabled = await alice.patch(`/routes/${id}`, { enabled: true });
    expect(enabled.body).toMatchObject({ enabled: true, version: 4 });

    const deleted = await alice.delete(`/routes/${id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.id).toBe(id);
    expect((await alice.get(`/routes/${id}`)).status).toBe(404);
    expect((await alice.delete(`/routes/${id}`)).status).toBe(404);
    expect(await routeIds(alice)).not.toContain(id);

    const trail = await engine.stores.audit.list(`route#${id}`, { limit: 20 });
    expect(trail.items.map((e) => [e.action, e.actor, e.customerId])).toEqual([
      ['route.created', alicePrincipal, 'customer-a'],
      ['route.updated', alicePrincipal, 'customer-a'],
      ['route.disabled', alicePrincipal, 'customer-a'],
      ['route.enabled', alicePrincipal, 'customer-a'],
      ['route.deleted', alicePrincipal, 'customer-a'],
    ]);
  });

  it('pages through the routes with a cursor', async () => {
    await alice.post('/routes', route({ name: 'page one' }));
    await alice.post('/routes', route({ name: 'page two' }));
    const first = await alice.get('/routes?limit=1');
    expect(first.body.items).toHaveLength(1);
    const next = await alice.get(`/routes?limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(next.status).toBe(200);
    expect(next.body.items[0].id).not.toBe(first.body.items[0].id);
  });

  it('accepts a target in a sub-folder of the source when sub-folders are not watched', async () => {
    const created = await alice.post(
      '/routes',
      route({ source: { path: 'drop' }, target: { endpointId: ids.s3BothSameBucket, path: 'out/drop/done' } }),
    );
    expect(created.status).toBe(201);
  });
});

describe('bad input to POST /routes is a 400 naming the field, and nothing is stored', () => {
  it.each<[string, () => unknown, string]>([
    ['another customer’s source endpoint', () => route({ source: { endpointId: ids.bobS3 } }), 'source.endpointId'],
    ['another customer’s target endpoint', () => route({ target: { endpointId: ids.bobS3 } }), 'target.endpointId'],
    ['a source endpoint that does not exist', () => route({ source: { endpointId: MISSING } }), 'source.endpointId'],
    ['a malformed endpoint id', () => route({ source: { endpointId: 'ep_../../x' } }), 'source.endpointId'],
    ['an INBOUND endpoint as source', () => route({ source: { endpointId: ids.s3In } }), 'source.endpointId'],
    ['an OUTBOUND endpoint as target', () => route({ target: { endpointId: ids.s3Out } }), 'target.endpointId'],
    [
      'an SFTP endpoint as source (routes are S3 events)',
      () => route({ source: { endpointId: ids.sftpOut } }),
      'source.endpointId',
    ],
    ['a pattern that needs a name of 256 characters', () => route({ source: { pattern: 'a'.repeat(256) } }), 'source.pattern'],
    ['a pattern with a separator', () => route({ source: { pattern: '../*.csv' } }), 'source.pattern'],
    [
      'a target inside the watched source folder (on the same bucket, another endpoint)',
      () =>
        route({
          source: { path: 'drop', includeSubfolders: true },
          target: { endpointId: ids.s3BothSameBucket, path: 'out/drop/done' },
        }),
      'target.path',
    ],
    [
      'a target that is the source folder itself',
      () => route({ source: { path: 'drop' }, target: { endpointId: ids.s3BothSameBucket, path: 'out/drop' } }),
      'target.path',
    ],
    [
      'a target anywhere in a source that is the whole prefix, sub-folders watched',
      () =>
        route({
          source: { path: '', includeSubfolders: true },
          target: { endpointId: ids.s3BothSameBucket, path: 'out/archive' },
        }),
      'target.path',
    ],
    ['a traversing source path', () => route({ source: { path: 'drop/../../other' } }), 'source.path'],
    ['a traversing target path', () => route({ target: { path: '..\\..\\etc' } }), 'target.path'],
    ['an empty target path', () => route({ target: { path: '' } }), 'target.path'],
    ['a customer id in the body', () => ({ ...route(), customerId: 'customer-b' }), 'customerId'],
    ['a source bucket in the body', () => ({ ...route(), sourceBucket: 'customer-b-outbox' }), 'sourceBucket'],
    ['an unknown source field', () => route({ source: { recursive: true } }), 'source.recursive'],
    ['a missing name', () => ({ ...route(), name: undefined }), 'name'],
  ])('%s', async (_case, body, field) => {
    const before = await routeIds(alice);
    const response = await alice.post('/routes', body());
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
    expect(response.body.error.fields.map((f: { field: string }) => f.field)).toContain(field);
    expect(await routeIds(alice)).toEqual(before);
  });
});

describe('bad input to the other route operations', () => {
  let id: string;
  beforeAll(async () => {
    id = (await alice.post('/routes', route())).body.id;
  });

  it.each<[string, () => unknown, string]>([
    ['an empty PATCH', () => ({}), 'body'],
    [
      'a target into the source folder',
      () => ({ target: { endpointId: ids.s3BothSameBucket, path: 'out/drop' } }),
      'target.path',
    ],
    ['another customer’s endpoint', () => ({ source: { endpointId: ids.bobS3, path: 'x' } }), 'source.endpointId'],
    ['a version in the body', () => ({ version: 7 }), 'version'],
  ])('PATCH with %s is a 400 and changes nothing', async (_case, body, field) => {
    const before = await alice.get(`/routes/${id}`);
    const response = await alice.patch(`/routes/${id}`, body());
    expect(response.status).toBe(400);
    expect(response.body.error.fields.map((f: { field: string }) => f.field)).toContain(field);
    expect(await alice.get(`/routes/${id}`)).toEqual(before);
  });

  it('refuses a malformed route id', async () => {
    const response = await alice.get('/routes/..%2F..%2Fetc');
    expect(response.status).toBe(400);
    expect(response.body.error.fields[0].field).toBe('path.routeId');
  });

  it('a schedule id is no route', async () => {
    expect((await alice.get(`/routes/sc_${'0'.repeat(26)}`)).status).toBe(400);
  });
});

describe('another customer’s routes', () => {
  it('are 404 to read, change or delete, and never listed; the route stays as it was', async () => {
    const { id } = (await alice.post('/routes', route())).body;
    const before = await alice.get(`/routes/${id}`);
    for (const client of [bob, engine.bob.east]) {
      expect((await client.get(`/routes/${id}`)).status).toBe(404);
      expect((await client.patch(`/routes/${id}`, { enabled: false })).status).toBe(404);
      expect((await client.delete(`/routes/${id}`)).status).toBe(404);
      expect(await routeIds(client)).not.toContain(id);
    }
    expect(await alice.get(`/routes/${id}`)).toEqual(before);
    // The other region serves alice the same route (one global table).
    expect((await engine.alice.east.get(`/routes/${id}`)).body).toEqual(before.body);
  });

  it('a cursor of alice’s listing is refused to bob', async () => {
    const first = await alice.get('/routes?limit=1');
    expect(first.body.nextCursor).toBeDefined();
    const response = await bob.get(`/routes?limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(response.status).toBe(400);
    expect(response.body.error.fields[0].field).toBe('cursor');
  });
});
