/**
 * The CLI's signed client against a server that checks SigV4 as API Gateway does (local/sigv4.ts),
 * at a deployment-style URL whose path carries the stage.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient } from '../../cli/client';
import { EXIT } from '../../cli/errors';
import { type LocalPrincipal, SignatureError, verifySigV4 } from '../../local/sigv4';

const REGION = 'us-gov-west-1';
const principal: LocalPrincipal = {
  accessKeyId: 'AKIACLITEST0000001',
  secretAccessKey: 'cli-test-secret-key',
  principalArn: 'arn:aws-us-gov:iam::111111111111:user/alice',
};
let server: Server;
let base: string;
const seen: Array<{ path: string; idempotencyKey?: string }> = [];

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const query: Record<string, string[]> = {};
    for (const [key, value] of url.searchParams) query[key] = [...(query[key] ?? []), value];
    try {
      await verifySigV4(
        { method: request.method ?? 'GET', path: url.pathname, query, headers: request.headers, body: await body(request) },
        REGION,
        [principal],
      );
    } catch (error) {
      const status = error instanceof SignatureError ? error.statusCode : 500;
      response
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ message: (error as Error).message }));
      return;
    }
    seen.push({ path: `${url.pathname}${url.search}`, idempotencyKey: request.headers['idempotency-key'] as string | undefined });
    if (url.pathname.endsWith('/missing')) {
      response
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'job job_x not found' } }));
      return;
    }
    if (url.pathname.endsWith('/inactive')) {
      const message = 'source endpoint ep_0123456789abcdefghjkmnpqrs is PENDING; only ACTIVE endpoints take new jobs';
      response
        .writeHead(409, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'ENDPOINT_NOT_ACTIVE', message } }));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [], ok: true }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const client = (secretAccessKey = principal.secretAccessKey) =>
  new ApiClient({
    url: base,
    region: REGION,
    credentials: { accessKeyId: principal.accessKeyId, secretAccessKey },
    description: 'the test API',
  });

describe('the CLI API client', () => {
  it('signs requests under the URL stage path, with the query and the headers it adds', async () => {
    await client().get('/jobs', { requestId: 'req_1', limit: 5, cursor: undefined });
    await client().post('/transfers', { source: {} }, { 'Idempotency-Key': 'nightly-2026-12-03' });
    expect(seen.slice(-2)).toEqual([
      { path: '/prod/jobs?requestId=req_1&limit=5', idempotencyKey: undefined },
      { path: '/prod/transfers', idempotencyKey: 'nightly-2026-12-03' },
    ]);
  });

  it('reports credentials the API does not accept as exit 4, saying what to check', async () => {
    await expect(client('wrong').get('/endpoints')).rejects.toMatchObject({
      exitCode: EXIT.UNREACHABLE,
      message: expect.stringContaining('did not accept the credentials'),
    });
  });

  it('reports a 404 as exit 3 and names the command that fixes an inactive endpoint', async () => {
    await expect(client().get('/jobs/missing')).rejects.toMatchObject({ exitCode: EXIT.REFUSED, code: 'NOT_FOUND' });
    await expect(client().post('/inactive')).rejects.toMatchObject({
      exitCode: EXIT.REFUSED,
      message: expect.stringContaining('eft endpoints validate ep_0123456789abcdefghjkmnpqrs'),
    });
  });

  it('reports an API nobody answers as exit 4', async () => {
    const closed = new ApiClient({
      url: 'http://127.0.0.1:1/prod',
      region: REGION,
      credentials: principal,
      description: 'the test API',
    });
    await expect(closed.get('/endpoints')).rejects.toMatchObject({
      exitCode: EXIT.UNREACHABLE,
      message: expect.stringContaining('cannot reach http://127.0.0.1:1'),
    });
  });
});
