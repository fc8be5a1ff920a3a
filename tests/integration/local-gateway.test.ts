// The local API Gateway stand-in, spoken to as a hostile or unusual client
// would: raw HTTP (node:http sends the request target byte for byte, where
// fetch would normalise it), signed with @smithy/signature-v4 where the
// request must get past AWS_IAM authorization.
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { REGIONS } from '../../local/stack';
import { startTestEngine, type TestEngine } from '../support/local-engine';

let engine: TestEngine;
let api: URL;
let keys: { accessKeyId: string; secretAccessKey: string };

beforeAll(async () => {
  engine = await startTestEngine();
  api = new URL(engine.stack.info.apis[REGIONS.west] ?? '');
  const alice = engine.stack.info.customers.find((c) => c.customerId === 'customer-a');
  if (!alice) throw new Error('no demo customer customer-a');
  keys = { accessKeyId: alice.accessKeyId, secretAccessKey: alice.secretAccessKey };
}, 60_000);
afterAll(() => engine.close());

interface RawResponse {
  status: number;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: the tests read arbitrary JSON bodies
  body: any;
}

/** Sends `target` (path and query, exactly as given) with these headers and body bytes. */
function send(method: string, target: string, headers: Record<string, string>, body?: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: api.hostname, port: api.port, method, path: target, headers: { ...headers, connection: 'close' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface SignOptions {
  /** The bytes the signature covers (default: the bytes sent). */
  signedBody?: Buffer;
  /** Extra headers, signed (an `x-amz-content-sha256` here is used as the payload hash, as SDKs do). */
  headers?: Record<string, string>;
  /** Whether the signer adds `x-amz-content-sha256` itself (SDK default); curl does not for execute-api. */
  applyChecksum?: boolean;
  region?: string;
  service?: string;
  signingDate?: Date;
}

/**
 * Signs as an SDK does: the path exactly as sent (the signer escapes it once
 * more, as execute-api expects), the query as URLSearchParams reads it.
 */
async function signHeaders(method: string, target: string, body?: Buffer, options: SignOptions = {}) {
  const [path = '/', rawQuery = ''] = target.split(/\?(.*)/s);
  const params = new URLSearchParams(rawQuery);
  const query = Object.fromEntries([...new Set(params.keys())].map((key) => [key, params.getAll(key)]));
  const signer = new SignatureV4({
    credentials: keys,
    region: options.region ?? REGIONS.west,
    service: options.service ?? 'execute-api',
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: options.applyChecksum ?? true,
  });
  const headers: Record<string, string> = {
    host: api.host,
    ...(body ? { 'content-type': 'application/json' } : {}),
    ...options.headers,
  };
  const signedBody = options.signedBody ?? body;
  const request = await signer.sign(
    {
      method,
      protocol: 'http:',
      hostname: api.hostname,
      path,
      query,
      headers,
      body: signedBody?.length ? signedBody : undefined,
    },
    { signingDate: options.signingDate },
  );
  return request.headers as Record<string, string>;
}

async function signed(method: string, target: string, body?: Buffer, options: SignOptions = {}): Promise<RawResponse> {
  return send(method, target, await signHeaders(method, target, body, options), body);
}

const endpoint = (name: string) =>
  Buffer.from(
    JSON.stringify({
      type: 'S3',
      name,
      direction: 'INBOUND',
      s3: { bucket: 'customer-a-inbox', prefix: 'in/', region: 'us-gov-west-1' },
    }),
  );

async function endpointNames(): Promise<string[]> {
  const response = await signed('GET', '/endpoints?limit=100');
  expect(response.status).toBe(200);
  return response.body.items.map((item: { name: string }) => item.name);
}

const SIGNATURE_MISMATCH = 'The request signature we calculated does not match the signature you provided';

describe('malformed percent-encoding is the client’s error, never the gateway’s', () => {
  it.each([
    ['a truncated UTF-8 escape in a path parameter', '/endpoints/%E0%A4%A'],
    ['a non-hex escape in a path parameter', '/endpoints/%ZZ'],
    ['a lone percent sign in a path parameter', '/endpoints/%'],
    ['an escape that is not UTF-8 in a path parameter', '/endpoints/%FF'],
    ['an overlong UTF-8 escape in a path parameter', '/endpoints/%C0%AF/validate'],
    ['a malformed escape in a path that matches no route', '/no-such-resource/%E0%A4%A'],
    ['a non-hex escape in a query value', '/endpoints?cursor=%ZZ'],
    ['a truncated UTF-8 escape in a query value', '/endpoints?cursor=%E0%A4%A'],
    ['a malformed escape in a query key', '/endpoints?%ZZ=1'],
  ])('%s: 400, signed or not', async (_case, target) => {
    for (const response of [await signed('GET', target), await send('GET', target, { host: api.host })]) {
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ message: expect.stringContaining('percent-encoding') });
    }
  });

  it.each([
    ['a double slash', '//endpoints'],
    ['dot segments', '/endpoints/../endpoints'],
    ['encoded dot segments', '/endpoints/%2e%2e/endpoints'],
    ['an encoded slash in a path parameter', '/endpoints/a%2Fb'],
    ['an encoded NUL in a path parameter', '/endpoints/a%00b'],
    ['a four-byte UTF-8 path parameter', '/endpoints/%F0%9F%98%80'],
    ['a __proto__ query key', '/endpoints?__proto__=1&constructor=2'],
    ['empty query pairs', '/endpoints?&&=&limit'],
    ['a plus sign in a query value', '/endpoints?limit=1+1'],
    ['an absolute-form request target', 'http://api.example/endpoints'],
    ['an asterisk request target', '*'],
  ])('%s: a 4xx or a handler’s answer, never a 5xx', async (_case, target) => {
    const response = await signed('GET', target);
    expect(response.status).toBeLessThan(500);
  });
});

describe('SigV4 covers the exact body received, as execute-api verifies it', () => {
  it('refuses x-amz-content-sha256: UNSIGNED-PAYLOAD with a body other than the one signed, and stores nothing', async () => {
    const response = await signed('POST', '/endpoints', endpoint('substituted'), {
      signedBody: endpoint('signed'),
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    expect(response.status).toBe(403);
    expect(response.body.message).toContain(SIGNATURE_MISMATCH);
    expect(await endpointNames()).not.toEqual(expect.arrayContaining(['substituted']));
  });

  it('refuses UNSIGNED-PAYLOAD altogether: execute-api hashes the payload itself', async () => {
    const withBody = await signed('POST', '/endpoints', endpoint('unsigned'), {
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    expect(withBody.status).toBe(403);
    expect(withBody.body.message).toContain(SIGNATURE_MISMATCH);
    const withoutBody = await signed('GET', '/endpoints', undefined, { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    expect(withoutBody.status).toBe(403);
    expect(withoutBody.body.message).toContain(SIGNATURE_MISMATCH);
    expect(await endpointNames()).not.toEqual(expect.arrayContaining(['unsigned']));
  });

  it('refuses a body that differs from the signed one by one byte, whether the hash header is signed or absent', async () => {
    const sent = endpoint('tampered-x');
    const signedBody = endpoint('tampered-y');
    for (const applyChecksum of [true, false]) {
      const response = await signed('POST', '/endpoints', sent, { signedBody, applyChecksum });
      expect(response.status).toBe(403);
      expect(response.body.message).toContain(SIGNATURE_MISMATCH);
    }
    expect(await endpointNames()).not.toEqual(expect.arrayContaining(['tampered-x']));
  });

  it('refuses an unsigned x-amz-content-sha256 header that does not hash the body', async () => {
    const body = endpoint('unsigned-header');
    const headers = await signHeaders('POST', '/endpoints', body, { applyChecksum: false });
    const wrongHash = createHash('sha256').update('something else').digest('hex');
    const response = await send('POST', '/endpoints', { ...headers, 'x-amz-content-sha256': wrongHash }, body);
    expect(response.status).toBe(403);
    expect(response.body.message).toContain(SIGNATURE_MISMATCH);
  });

  it('refuses a signed header list naming a header the request lacks, even one every object has', async () => {
    const headers = await signHeaders('GET', '/endpoints');
    for (const name of ['constructor', 'x-not-sent']) {
      const authorization = headers.authorization?.replace('SignedHeaders=', `SignedHeaders=${name};`) ?? '';
      const response = await send('GET', '/endpoints', { ...headers, authorization });
      expect(response.status).toBe(403);
      expect(response.body.message).toContain(SIGNATURE_MISMATCH);
    }
  });

  it('accepts a body signed without x-amz-content-sha256, as curl --aws-sigv4 signs it', async () => {
    const response = await signed('POST', '/endpoints', endpoint('curl-style'), { applyChecksum: false });
    expect(response.status).toBe(201);
    expect(await endpointNames()).toContain('curl-style');
  });

  it('hashes the bytes received, not a decoding of them', async () => {
    // Not UTF-8 (a lone 0xff) and a CRLF: a hash of the text the gateway decodes would differ.
    const bytes = Buffer.concat([Buffer.from('{"type":"S3",\r\n"name":"'), Buffer.from([0xff]), Buffer.from('"}')]);
    const response = await signed('POST', '/endpoints', bytes);
    expect(response.status).not.toBe(403);
    expect(response.status).toBeLessThan(500);
  });

  it('still enforces the scope (service execute-api, this region) and 5 minutes of clock skew', async () => {
    const refused = [
      await signed('GET', '/endpoints', undefined, { region: REGIONS.east }),
      await signed('GET', '/endpoints', undefined, { service: 's3' }),
      await signed('GET', '/endpoints', undefined, { signingDate: new Date(Date.now() - 6 * 60_000) }),
      await signed('GET', '/endpoints', undefined, { signingDate: new Date(Date.now() + 6 * 60_000) }),
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403]);
    const accepted = await signed('GET', '/endpoints', undefined, { signingDate: new Date(Date.now() - 4 * 60_000) });
    expect(accepted.status).toBe(200);
  });
});
