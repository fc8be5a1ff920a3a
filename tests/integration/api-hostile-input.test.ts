/**
 * The API against a caller who means harm (issue 12's review): traversal with
 * either separator, a file copied onto itself, prototype keys in the JSON, an
 * unregistered principal probing the schema, and forged list cursors. All of it
 * against the whole local engine (SigV4 gateway, both regions, dynalite, s3rver).
 */
import { DeleteItemCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { ApiClient } from '../../local/api-client';
import { activeEndpoint, startTestEngine, type TestEngine } from '../support/local-engine';

let engine: TestEngine;
let alice: ApiClient;
let s3: S3Client;
let db: DynamoDBClient;

beforeAll(async () => {
  engine = await startTestEngine();
  alice = engine.alice.west;
  const { info } = engine.stack;
  s3 = new S3Client({ endpoint: info.s3.endpoint, region: 'us-gov-west-1', forcePathStyle: true, credentials: info.credentials });
  db = new DynamoDBClient({ endpoint: info.dynamodb.endpoint, region: 'us-gov-west-1', credentials: info.credentials });
}, 60_000);
afterAll(async () => {
  s3.destroy();
  db.destroy();
  await engine.close();
});

const fieldsOf = (response: { body: { error?: { fields?: Array<{ field: string }> } } }) =>
  (response.body.error?.fields ?? []).map((f) => f.field);

const sftp = {
  type: 'SFTP',
  name: 'partner',
  direction: 'OUTBOUND',
  sftp: { host: 'sftp.partner.example', port: 22, username: 'eft', basePath: '/outbound' },
  credentials: { password: 'correct horse battery staple' },
};
const s3Endpoint = (prefix: string, direction = 'BOTH') => ({
  type: 'S3',
  name: `inbox ${prefix}`,
  direction,
  s3: { bucket: 'customer-a-inbox', prefix, region: 'us-gov-west-1' },
});
async function put(key: string, body = 'x') {
  await s3.send(new PutObjectCommand({ Bucket: 'customer-a-inbox', Key: key, Body: body }));
}

// First in the file: bob's principal must not be in any API container's cache yet.
describe('a validly signed principal that belongs to no customer', () => {
  let bob: ApiClient;
  let principalArn: string;
  const principals = () => engine.stack.info.tables.principals;

  beforeAll(async () => {
    bob = engine.bob.west;
    principalArn = engine.stack.info.customers.find((c) => c.customerId === 'customer-b')?.principalArn ?? '';
    await db.send(new DeleteItemCommand({ TableName: principals(), Key: marshall({ principalArn }) }));
  });
  afterAll(async () => {
    await db.send(new PutItemCommand({ TableName: principals(), Item: marshall({ principalArn, customerId: 'customer-b' }) }));
  });

  it.each<[string, () => Promise<{ status: number; body: { error?: { code?: string; fields?: unknown } } }>]>([
    ['a body that fails the schema', () => bob.post('/endpoints', { type: 'FTP' })],
    ['malformed JSON', () => bob.post('/endpoints', '{"type": ')],
    ['a __proto__ key', () => bob.post('/endpoints', '{"__proto__": {}}')],
    ['a body not declared as JSON', () => bob.request('POST', '/endpoints', '{}', { 'content-type': 'text/plain' })],
    ['a body over the size limit', () => bob.post('/endpoints', { padding: 'p'.repeat(64 * 1024) })],
    ['a bad transfer request', () => bob.post('/transfers', { source: { path: '../x' } })],
    ['a bad query', () => bob.get('/jobs?limit=0&cursor=forged')],
  ])('gets 403 before anything is said about %s', async (_case, send) => {
    const response = await send();
    expect(response.status).toBe(403);
    expect(response.body.error?.code).toBe('FORBIDDEN');
    expect(response.body.error?.fields).toBeUndefined();
  });
});

describe('prototype keys in valid JSON', () => {
  it.each<[string, string, string, string]>([
    ['__proto__ at the top', '/endpoints', '{"__proto__": {"isAdmin": true}, "type": "S3"}', '__proto__'],
    [
      'constructor.prototype in a nested object',
      '/endpoints',
      '{"type": "S3", "name": "x", "direction": "INBOUND", "s3": {"bucket": "customer-a-inbox", "prefix": "", "region": "us-gov-west-1", "constructor": {"prototype": {"polluted": true}}}}',
      's3.constructor',
    ],
    [
      '__proto__ inside a transfer source',
      '/transfers',
      '{"source": {"__proto__": {"path": "x"}}, "target": {}}',
      'source.__proto__',
    ],
    ['constructor as a plain key', '/transfers', '{"constructor": 1}', 'constructor'],
  ])('are refused by name, not as malformed JSON: %s', async (_case, path, body, field) => {
    const response = await alice.post(path, body);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
    expect(response.body.error.fields).toContainEqual({ field, message: expect.stringContaining('is not allowed') });
    expect(response.body.error.message).not.toContain('not valid JSON');
  });

  it('still calls malformed JSON malformed', async () => {
    const response = await alice.post('/endpoints', '{"type": "S3", ');
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({
      code: 'MALFORMED_JSON',
      fields: [{ field: 'body', message: 'is not valid JSON' }],
    });
  });
});

describe('traversal with either separator', () => {
  const withSftp = (changes: Record<string, unknown>) => ({ ...sftp, sftp: { ...sftp.sftp, ...changes } });

  it.each<[string, unknown, string]>([
    ['a backslash-traversing base path', withSftp({ basePath: '/outbound\\..\\..\\etc' }), 'sftp.basePath'],
    ['a base path mixing separators', withSftp({ basePath: '/outbound/..\\..\\etc' }), 'sftp.basePath'],
    ['a base path ending in a Windows parent (trailing dots)', withSftp({ basePath: '/outbound/...' }), 'sftp.basePath'],
    ['a backslash-traversing S3 prefix', s3Endpoint('in\\..\\..\\other-customer\\'), 's3.prefix'],
    ['a backslash "." segment in an S3 prefix', s3Endpoint('in\\.\\x/'), 's3.prefix'],
  ])('POST /endpoints refuses %s', async (_case, body, field) => {
    const response = await alice.post('/endpoints', body);
    expect(response.status).toBe(400);
    expect(fieldsOf(response)).toContain(field);
    expect(response.body.error.message).toContain(field);
  });

  it('PATCH refuses a backslash-traversing base path and leaves the endpoint as it was', async () => {
    const created = await alice.post('/endpoints', sftp);
    expect(created.status).toBe(201);
    const response = await alice.patch(`/endpoints/${created.body.id}`, { sftp: { basePath: '/outbound\\..\\..\\etc' } });
    expect(response.status).toBe(400);
    expect(fieldsOf(response)).toEqual(['sftp.basePath']);
    expect((await alice.get(`/endpoints/${created.body.id}`)).body.sftp.basePath).toBe('/outbound');
  });

  describe('POST /transfers', () => {
    let source: string;
    let target: string;
    beforeAll(async () => {
      source = await activeEndpoint(alice, s3Endpoint('trav-src/', 'OUTBOUND'));
      target = await activeEndpoint(alice, s3Endpoint('trav-dst/', 'INBOUND'));
      // They exist (S3 keys may hold any character), so nothing but the traversal refuses them.
      await put('trav-src/..\\..\\..\\etc\\passwd');
      await put('trav-src/in/..\\..\\etc/passwd');
      await put('trav-src/a.txt');
    });

    it.each<[string, Record<string, string>, Record<string, string>, string]>([
      ['a backslash-traversing source path', { path: '..\\..\\..\\etc\\passwd' }, { path: 'x' }, 'source.path'],
      ['a mixed-separator source path', { path: 'in/..\\..\\etc/passwd' }, { path: 'x' }, 'source.path'],
      ['a backslash-traversing target path', { path: 'a.txt' }, { path: 'in\\..\\..\\..\\etc\\cron.d\\x' }, 'target.path'],
      ['a slash-traversing target path', { path: 'a.txt' }, { path: '../../x' }, 'target.path'],
      ['a pattern that names the parent', { path: 'folder/', pattern: '..' }, { path: 'x' }, 'source.pattern'],
    ])('refuses %s', async (_case, sourceFields, targetFields, field) => {
      const response = await alice.post('/transfers', {
        source: { endpointId: source, ...sourceFields },
        target: { endpointId: target, ...targetFields },
      });
      expect(response.status).toBe(400);
      expect(fieldsOf(response)).toEqual([field]);
      expect(response.body.error.message).toContain(field);
    });

    it('refuses a folder holding a file whose name would climb out of the target folder', async () => {
      await put('trav-src/named/fine.txt');
      await put('trav-src/named/..\\..\\escape.txt');
      const response = await alice.post('/transfers', {
        source: { endpointId: source, path: 'named/' },
        target: { endpointId: target, path: 'out' },
      });
      expect(response.status).toBe(400);
      expect(fieldsOf(response)).toEqual(['source.path']);
      expect(response.body.error.fields[0].message).toContain('..\\\\..\\\\escape.txt');
    });
  });
});

describe('a file copied onto itself', () => {
  let both: string;
  let sameBucketAndPrefix: string;
  beforeAll(async () => {
    both = await activeEndpoint(alice, s3Endpoint('self/'));
    // Another endpoint naming the same place ("self" and "self/" are one prefix).
    sameBucketAndPrefix = await activeEndpoint(alice, s3Endpoint('self'));
    await put('self/a.txt', 'a');
    await put('self/folder/b.txt', 'b');
  });
  const jobCount = async () => (await alice.get('/jobs?limit=100')).body.items.length;

  it.each<[string, () => Record<string, unknown>, string]>([
    ['the same file on the same endpoint', () => ({ source: [both, 'a.txt'], target: [both, 'a.txt'] }), 'file'],
    [
      'the same file through another endpoint on the same prefix',
      () => ({ source: [both, 'a.txt'], target: [sameBucketAndPrefix, 'a.txt'] }),
      'file',
    ],
    ['a folder into itself', () => ({ source: [both, 'folder/'], target: [both, 'folder'] }), 'folder'],
    ['a folder into itself, by pattern', () => ({ source: [both, 'folder', '*.txt'], target: [both, 'folder'] }), 'folder'],
  ])('is refused: %s', async (_case, request, what) => {
    const { source, target } = request() as { source: string[]; target: string[] };
    const before = await jobCount();
    const response = await alice.post('/transfers', {
      source: { endpointId: source[0], path: source[1], ...(source[2] ? { pattern: source[2] } : {}) },
      target: { endpointId: target[0], path: target[1] },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.fields).toEqual([
      { field: 'target.path', message: expect.stringContaining(`source ${what} itself`) },
    ]);
    expect(await jobCount()).toBe(before);
  });

  it('is not confused with a copy beside the original', async () => {
    const response = await alice.post('/transfers', {
      source: { endpointId: both, path: 'a.txt' },
      target: { endpointId: both, path: 'copies/a.txt' },
    });
    expect(response.status).toBe(201);
  });
});

describe('list cursors', () => {
  const page = (client: ApiClient, path: string, cursor?: string) =>
    client.get(`${path}${path.includes('?') ? '&' : '?'}limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
  let genuine: string;

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) expect((await alice.post('/endpoints', { ...sftp, name: `paged ${i}` })).status).toBe(201);
    genuine = (await page(alice, '/endpoints')).body.nextCursor;
    expect(genuine).toEqual(expect.any(String));
  });

  it('page through every endpoint, in either region', async () => {
    const all = (await alice.get('/endpoints?limit=100')).body.items.map((e: { id: string }) => e.id);
    expect(all.length).toBeGreaterThanOrEqual(3);
    const seen: string[] = [];
    let cursor: string | undefined;
    let region = 0;
    do {
      // Alternate the regions: one stack's secret, replicated, authenticates the cursors of both.
      const client = region++ % 2 === 0 ? engine.alice.west : engine.alice.east;
      const response = await page(client, '/endpoints', cursor);
      expect(response.status).toBe(200);
      seen.push(...response.body.items.map((e: { id: string }) => e.id));
      cursor = response.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all);
  });

  const flip = (text: string, at: number) => `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
  const tampered: Array<[string, () => string]> = [
    [
      'a key of the right customer but the wrong shape, encoded as cursors used to be',
      () => Buffer.from(JSON.stringify({ customerId: { S: 'customer-a' }, endpointId: { N: '1' } })).toString('base64url'),
    ],
    [
      'the same key with a made-up signature',
      () =>
        `${Buffer.from(JSON.stringify({ customerId: { S: 'customer-a' }, endpointId: { N: '1' } })).toString('base64url')}.${'A'.repeat(43)}`,
    ],
    ['a genuine key re-signed with nothing', () => genuine.split('.')[0] ?? ''],
    ['a random string', () => 'kx2vQ9_random-string'],
    ['a string of the right shape', () => `${'a'.repeat(40)}.${'b'.repeat(43)}`],
    ['a genuine cursor with a byte of its key flipped', () => flip(genuine, 3)],
    ['a genuine cursor with a byte of its signature flipped', () => flip(genuine, genuine.length - 5)],
    ['a genuine cursor with its last character changed', () => flip(genuine, genuine.length - 1)],
    ['a genuine cursor with something appended', () => `${genuine}A`],
  ];

  it.each(tampered)('refuse %s with 400 naming cursor', async (_case, cursor) => {
    const response = await page(alice, '/endpoints', cursor());
    expect(response.status).toBe(400);
    expect(response.body.error.fields).toEqual([{ field: 'cursor', message: 'is not a cursor this API issued' }]);
  });

  it('are good only for the listing they came from', async () => {
    const onJobs = await page(alice, '/jobs', genuine);
    expect(onJobs.status).toBe(400);
    expect(fieldsOf(onJobs)).toEqual(['cursor']);
    const stolen = await page(engine.bob.west, '/endpoints', genuine);
    expect(stolen.status).toBe(400);
    expect(fieldsOf(stolen)).toEqual(['cursor']);
  });

  describe('of jobs', () => {
    let requestId: string;
    beforeAll(async () => {
      const source = await activeEndpoint(alice, s3Endpoint('jobs-src/', 'OUTBOUND'));
      const target = await activeEndpoint(alice, s3Endpoint('jobs-dst/', 'INBOUND'));
      for (let i = 0; i < 3; i++) await put(`jobs-src/batch/${i}.txt`, String(i));
      const created = await alice.post('/transfers', {
        source: { endpointId: source, path: 'batch/' },
        target: { endpointId: target, path: 'batch' },
      });
      expect(created.status).toBe(201);
      requestId = created.body.requestId;
    });

    it('page through a request’s jobs, and refuse a cursor moved to another listing or tampered with', async () => {
      const byRequest = `/jobs?requestId=${requestId}`;
      const seen: string[] = [];
      let cursor: string | undefined;
      let first: string | undefined;
      do {
        const response = await page(alice, byRequest, cursor);
        expect(response.status).toBe(200);
        seen.push(...response.body.items.map((j: { jobId: string }) => j.jobId));
        cursor = response.body.nextCursor;
        first ??= cursor;
      } while (cursor);
      expect(seen.sort()).toEqual(
        (await alice.get(`${byRequest}&limit=100`)).body.items.map((j: { jobId: string }) => j.jobId).sort(),
      );
      expect(seen).toHaveLength(3);

      // The same cursor without the requestId would reach the table with the index's key: refused, not a 500.
      for (const cursorElsewhere of [
        page(alice, '/jobs', first),
        page(alice, '/jobs?status=QUEUED', first),
        page(alice, '/endpoints', first),
        page(alice, byRequest, flip(first ?? '', 10)),
      ]) {
        const response = await cursorElsewhere;
        expect(response.status).toBe(400);
        expect(fieldsOf(response)).toEqual(['cursor']);
      }
    });
  });
});
