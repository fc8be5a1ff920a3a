import type { ApiClient } from '../../local/api-client';
import { startTestEngine, type TestEngine } from '../support/local-engine';

let engine: TestEngine;
let alice: ApiClient;

beforeAll(async () => {
  engine = await startTestEngine();
  alice = engine.alice.west;
}, 60_000);
afterAll(() => engine.close());

const sftp = {
  type: 'SFTP',
  name: 'partner',
  direction: 'OUTBOUND',
  sftp: { host: 'sftp.partner.example', port: 22, username: 'eft', basePath: '/outbound' },
  credentials: { password: 'correct horse battery staple' },
};
const s3 = {
  type: 'S3',
  name: 'inbox',
  direction: 'INBOUND',
  s3: { bucket: 'customer-a-inbox', prefix: 'in/', region: 'us-gov-west-1' },
};
const withSftp = (changes: Record<string, unknown>) => ({ ...sftp, sftp: { ...sftp.sftp, ...changes } });

async function countEndpoints(): Promise<number> {
  return (await alice.get('/endpoints?limit=100')).body.items.length;
}

describe('bad input to POST /endpoints is refused with a 4xx naming the field, and nothing is stored', () => {
  it.each<[string, unknown, number, string]>([
    ['malformed JSON', '{"type": "S3", "name": ', 400, 'body'],
    ['a JSON array', '[1,2]', 400, 'body'],
    ['a missing type', { name: 'x', direction: 'INBOUND' }, 400, 'type'],
    ['an unknown type', { ...s3, type: 'FTP' }, 400, 'type'],
    ['a missing name', { ...s3, name: undefined }, 400, 'name'],
    ['a number as name', { ...s3, name: 42 }, 400, 'name'],
    ['an unknown field', { ...s3, isAdmin: true }, 400, 'isAdmin'],
    ['an unknown nested field', { ...s3, s3: { ...s3.s3, acl: 'public-read' } }, 400, 's3.acl'],
    ['a customer id in the body', { ...s3, customerId: 'customer-b' }, 400, 'customerId'],
    ['a string as port', withSftp({ port: '22' }), 400, 'sftp.port'],
    ['a port out of range', withSftp({ port: 70000 }), 400, 'sftp.port'],
    ['a control character in the name', { ...s3, name: 'in\u0000box' }, 400, 'name'],
    ['a newline in the name (log injection)', { ...s3, name: 'inbox\nlevel=admin' }, 400, 'name'],
    ['markup in the name', { ...s3, name: '<script>alert(1)</script>' }, 400, 'name'],
    ['a name of 10,000 characters', { ...s3, name: 'a'.repeat(10_000) }, 400, 'name'],
    ['a traversing base path', withSftp({ basePath: '/outbound/../../etc' }), 400, 'sftp.basePath'],
    ['a relative base path', withSftp({ basePath: 'outbound' }), 400, 'sftp.basePath'],
    ['a traversing S3 prefix', { ...s3, s3: { ...s3.s3, prefix: 'in/../../other-customer/' } }, 400, 's3.prefix'],
    ['a bucket name with a slash', { ...s3, s3: { ...s3.s3, bucket: 'customer-a-inbox/../x' } }, 400, 's3.bucket'],
    ['a commercial-partition region', { ...s3, s3: { ...s3.s3, region: 'us-east-1' } }, 400, 's3.region'],
    ['the instance metadata address as host', withSftp({ host: '169.254.169.254' }), 400, 'sftp.host'],
    ['an IPv6 link-local host', withSftp({ host: 'fe80::1' }), 400, 'sftp.host'],
    ['a private-range host', withSftp({ host: '10.0.0.5' }), 400, 'sftp.host'],
    ['a decimal-encoded metadata address', withSftp({ host: '2852039166' }), 400, 'sftp.host'],
    ['a host with a path in it', withSftp({ host: 'evil.example/../../' }), 400, 'sftp.host'],
    ['a shell metacharacter in the username', withSftp({ username: 'eft;rm -rf /' }), 400, 'sftp.username'],
    ['a malformed host key fingerprint', withSftp({ hostKeyFingerprint: 'MD5:aa:bb' }), 400, 'sftp.hostKeyFingerprint'],
    ['missing credentials', { ...sftp, credentials: undefined }, 400, 'credentials'],
    ['both password and key', { ...sftp, credentials: { password: 'p', privateKey: 'k' } }, 400, 'credentials'],
    ['a private key that is not a key', { ...sftp, credentials: { privateKey: 'not a key' } }, 400, 'credentials.privateKey'],
    ['credentials on an S3 endpoint', { ...s3, credentials: { password: 'p' } }, 400, 'credentials'],
  ])('%s', async (_case, body, status, field) => {
    const before = await countEndpoints();
    const response = await alice.post('/endpoints', body);
    expect(response.status).toBe(status);
    expect(response.body.error.fields.map((f: { field: string }) => f.field)).toContain(field);
    expect(response.body.error.message).toContain(field);
    expect(await countEndpoints()).toBe(before);
  });

  it('refuses a body over the size limit with 413', async () => {
    const response = await alice.post('/endpoints', { ...s3, name: 'x', padding: 'p'.repeat(64 * 1024) });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a body that is not declared as JSON with 415', async () => {
    const response = await alice.request('POST', '/endpoints', JSON.stringify(s3), { 'content-type': 'text/plain' });
    expect(response.status).toBe(415);
  });
});

describe('bad input to the other endpoint operations', () => {
  let id: string;
  beforeAll(async () => {
    id = (await alice.post('/endpoints', s3)).body.id;
  });

  it('refuses a malformed endpoint id', async () => {
    const response = await alice.get('/endpoints/..%2F..%2Fetc');
    expect(response.status).toBe(400);
    expect(response.body.error.fields[0].field).toBe('path.id');
  });

  it('refuses an empty PATCH', async () => {
    expect((await alice.patch(`/endpoints/${id}`, {})).status).toBe(400);
  });

  it('refuses SFTP settings on an S3 endpoint and leaves it unchanged', async () => {
    const before = await alice.get(`/endpoints/${id}`);
    const response = await alice.patch(`/endpoints/${id}`, { sftp: { host: 'x.example' } });
    expect(response.status).toBe(400);
    expect(response.body.error.fields[0].field).toBe('sftp');
    expect(await alice.get(`/endpoints/${id}`)).toEqual(before);
  });

  it('refuses a status other than ACTIVE or DISABLED', async () => {
    const response = await alice.patch(`/endpoints/${id}`, { status: 'VALIDATION_FAILED' });
    expect(response.status).toBe(400);
    expect(response.body.error.fields[0].field).toBe('status');
  });

  it.each([
    ['a limit of 0', 'limit=0', 'query.limit'],
    ['a limit of 1000', 'limit=1000', 'query.limit'],
    ['a non-numeric limit', 'limit=ten', 'query.limit'],
    ['a forged cursor', 'cursor=eyJmb28iOjF9', 'cursor'],
    ['an unknown parameter', 'owner=customer-b', 'query.owner'],
  ])('refuses a list with %s', async (_case, query, field) => {
    const response = await alice.get(`/endpoints?${query}`);
    expect(response.status).toBe(400);
    expect(response.body.error.fields.map((f: { field: string }) => f.field)).toContain(field);
  });
});
