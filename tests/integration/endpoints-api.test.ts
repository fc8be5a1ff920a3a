import { readFile } from 'node:fs/promises';
import { ApiClient, type Credentials } from '../../local/api-client';
import { startTestEngine, type TestEngine } from '../support/local-engine';

let engine: TestEngine;
let alice: ApiClient;
let bob: ApiClient;

beforeAll(async () => {
  engine = await startTestEngine();
  alice = engine.alice.west;
  bob = engine.bob.west;
}, 60_000);
afterAll(() => engine.close());

const s3Endpoint = (overrides: Record<string, unknown> = {}) => ({
  type: 'S3',
  name: 'customer inbox',
  direction: 'INBOUND',
  s3: { bucket: 'customer-a-inbox', prefix: 'landing/', region: 'us-gov-west-1' },
  ...overrides,
});

async function partnerEndpoint(overrides: Record<string, unknown> = {}) {
  const partner = engine.stack.info.partnerSftp;
  return {
    type: 'SFTP',
    name: 'partner outbound',
    direction: 'OUTBOUND',
    sftp: {
      host: partner.host,
      port: partner.port,
      username: partner.username,
      basePath: '/',
      hostKeyFingerprint: partner.hostKeyFingerprint,
    },
    credentials: { privateKey: await readFile(partner.privateKeyPath, 'utf8') },
    ...overrides,
  };
}

describe('endpoint lifecycle over the REST API', () => {
  it('creates, validates, updates, deactivates, reactivates and deletes an S3 endpoint, auditing each step', async () => {
    const created = await alice.post('/endpoints', s3Endpoint());
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(created.body).toMatchObject({ type: 'S3', status: 'PENDING', version: 1, maxConcurrency: 4 });

    const validated = await alice.post(`/endpoints/${id}/validate`);
    expect(validated.status).toBe(200);
    expect(validated.body.validation).toEqual({ ok: true });
    expect(validated.body.endpoint.status).toBe('ACTIVE');

    const renamed = await alice.patch(`/endpoints/${id}`, { name: 'renamed inbox', maxConcurrency: 2 });
    expect(renamed.body).toMatchObject({ name: 'renamed inbox', maxConcurrency: 2, status: 'ACTIVE', version: 3 });

    expect((await alice.patch(`/endpoints/${id}`, { status: 'DISABLED' })).body.status).toBe('DISABLED');
    expect((await alice.patch(`/endpoints/${id}`, { status: 'ACTIVE' })).body.status).toBe('ACTIVE');
    const deleted = await alice.delete(`/endpoints/${id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.status).toBe('DISABLED');
    expect((await alice.get(`/endpoints/${id}`)).body.status).toBe('DISABLED');

    const audit = await alice.get(`/endpoints/${id}/audit`);
    expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual([
      'endpoint.created',
      'endpoint.validated',
      'endpoint.updated',
      'endpoint.deactivated',
      'endpoint.activated',
      'endpoint.disabled',
    ]);
    expect(new Set(audit.body.items.map((e: { actor: string }) => e.actor))).toEqual(
      new Set(['arn:aws-us-gov:iam::111111111111:user/alice']),
    );
  });

  it('refuses to activate an endpoint whose connection settings were never validated', async () => {
    const { body } = await alice.post('/endpoints', s3Endpoint());
    const activate = await alice.patch(`/endpoints/${body.id}`, { status: 'ACTIVE' });
    expect(activate.status).toBe(409);
    expect(activate.body.error.code).toBe('NOT_VALIDATED');
  });

  it('returns an endpoint to PENDING when its connection settings change', async () => {
    const { body } = await alice.post('/endpoints', s3Endpoint());
    await alice.post(`/endpoints/${body.id}/validate`);
    const moved = await alice.patch(`/endpoints/${body.id}`, { s3: { prefix: 'elsewhere/' } });
    expect(moved.body).toMatchObject({ status: 'PENDING', s3: { bucket: 'customer-a-inbox', prefix: 'elsewhere/' } });
    expect((await alice.patch(`/endpoints/${body.id}`, { status: 'ACTIVE' })).status).toBe(409);
  });

  it('serves the same endpoint from both regions', async () => {
    const { body } = await alice.post('/endpoints', s3Endpoint());
    const fromEast = await engine.alice.east.get(`/endpoints/${body.id}`);
    expect(fromEast.status).toBe(200);
    expect(fromEast.body).toEqual(body);
  });

  it('pages through the caller’s endpoints', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) ids.add((await engine.alice.east.post('/endpoints', s3Endpoint({ name: `paged ${i}` }))).body.id);
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await alice.get(`/endpoints?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      for (const item of page.body.items) seen.add(item.id);
      cursor = page.body.nextCursor;
    } while (cursor);
    for (const id of ids) expect(seen).toContain(id);
  });
});

describe('tenant isolation', () => {
  it('answers another customer with 404 on every operation and leaves the endpoint unchanged', async () => {
    const { body: endpoint } = await alice.post('/endpoints', await partnerEndpoint());
    const before = await alice.get(`/endpoints/${endpoint.id}`);
    const attempts = [
      await bob.get(`/endpoints/${endpoint.id}`),
      await bob.patch(`/endpoints/${endpoint.id}`, { name: 'hijacked' }),
      await bob.patch(`/endpoints/${endpoint.id}`, { status: 'DISABLED' }),
      await bob.patch(`/endpoints/${endpoint.id}`, { credentials: { password: 'bobs-password' } }),
      await bob.delete(`/endpoints/${endpoint.id}`),
      await bob.post(`/endpoints/${endpoint.id}/validate`),
      await bob.get(`/endpoints/${endpoint.id}/audit`),
      await engine.bob.east.get(`/endpoints/${endpoint.id}`),
    ];
    for (const attempt of attempts) {
      expect(attempt.status).toBe(404);
      expect(attempt.body.error.message).toBe(`endpoint ${endpoint.id} not found`);
    }
    const missing = await bob.get('/endpoints/ep_00000000000000000000000000');
    expect(missing.body).toEqual({
      error: { ...missing.body.error, message: 'endpoint ep_00000000000000000000000000 not found' },
    });
    expect(await alice.get(`/endpoints/${endpoint.id}`)).toEqual(before);
    const bobsList = await bob.get('/endpoints?limit=100');
    expect(bobsList.body.items.map((e: { id: string }) => e.id)).not.toContain(endpoint.id);
    const trail = await alice.get(`/endpoints/${endpoint.id}/audit`);
    expect(trail.body.items.map((e: { action: string }) => e.action)).toEqual(['endpoint.created']);
  });

  it('refuses a list cursor taken from another customer', async () => {
    await alice.post('/endpoints', s3Endpoint());
    await alice.post('/endpoints', s3Endpoint());
    const page = await alice.get('/endpoints?limit=1');
    const stolen = await bob.get(`/endpoints?limit=1&cursor=${encodeURIComponent(page.body.nextCursor)}`);
    expect(stolen.status).toBe(400);
    expect(stolen.body.error.fields).toEqual([{ field: 'cursor', message: 'is not a cursor this API issued' }]);
  });
});

describe('authentication', () => {
  const westApi = () => engine.stack.info.apis['us-gov-west-1'] ?? '';
  const alicesKey = () => engine.stack.info.customers.find((c) => c.customerId === 'customer-a')?.accessKeyId ?? '';

  it('answers an unsigned request with 401', async () => {
    expect((await fetch(`${westApi()}/endpoints`)).status).toBe(401);
  });

  it('answers a request signed with an unknown access key with 403', async () => {
    const stranger = new ApiClient(westApi(), 'us-gov-west-1', { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' });
    expect((await stranger.get('/endpoints')).status).toBe(403);
  });

  it('answers a request signed with the wrong secret key with 403', async () => {
    const forger = new ApiClient(westApi(), 'us-gov-west-1', { accessKeyId: alicesKey(), secretAccessKey: 'guessed' });
    const response = await forger.get('/endpoints');
    expect(response.status).toBe(403);
    expect(response.body.items).toBeUndefined();
  });

  it('refuses a signature scoped to the other region', async () => {
    const customer = engine.stack.info.customers.find((c) => c.customerId === 'customer-a');
    const misdirected = new ApiClient(westApi(), 'us-gov-east-1', customer as Credentials);
    expect((await misdirected.get('/endpoints')).status).toBe(403);
  });
});
