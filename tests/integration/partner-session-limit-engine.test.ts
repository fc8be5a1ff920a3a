/**
 * maxConcurrency through the whole local engine (API, state machine, worker
 * processes): several executions at once, each its own worker process with its
 * own slots client, and the API's listing and stat, all count against the
 * partner's two sessions. The partner (the embedded SFTP server) is reached
 * through a TCP proxy that counts the connections open at once.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ApiClient } from '../../local/api-client';
import { awaitJob } from '../../local/jobs';
import { activeEndpoint, partnerEndpoint, startTestEngine, type TestEngine } from '../support/local-engine';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

let engine: TestEngine;
let alice: ApiClient;
let s3: S3Client;
let proxy: TcpProxy;

beforeAll(async () => {
  // The API's stat and list wait for a slot as long as a worker might hold both (a busy partner is not a failure here).
  engine = await startTestEngine({ EFT_LOCAL_RETRY_INTERVAL_MS: '100', EFT_SESSION_SLOT_WAIT_MS: '60000' });
  alice = engine.alice.west;
  const info = engine.stack.info;
  s3 = new S3Client({ endpoint: info.s3.endpoint, region: 'us-gov-west-1', forcePathStyle: true, credentials: info.credentials });
  proxy = await startTcpProxy({ host: info.partnerSftp.host, port: info.partnerSftp.port });
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await proxy?.close();
  await engine?.close();
});

async function read(bucket: string, key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

it('a partner with maxConcurrency 2 never sees more than 2 sessions from the engine; all 10 files arrive', async () => {
  const info = engine.stack.info;
  const dir = join(info.partnerSftp.root, 'outbound', 'limited');
  await mkdir(dir, { recursive: true });
  const files = new Map<string, Buffer>();
  for (let i = 0; i < 10; i++) {
    const name = `${i < 5 ? 'single' : 'batch'}-${i}.dat`;
    const content = randomBytes(1000 + i);
    await writeFile(join(dir, name), content);
    files.set(name, content);
  }
  const [partner, inbox] = await Promise.all([
    activeEndpoint(
      alice,
      await partnerEndpoint(
        info,
        { name: 'limited partner', direction: 'BOTH', basePath: '/outbound', maxConcurrency: 2 },
        proxy,
      ),
    ),
    activeEndpoint(alice, {
      type: 'S3',
      name: 'inbox',
      direction: 'BOTH',
      s3: { bucket: 'customer-a-inbox', prefix: 'limited/', region: 'us-gov-west-1' },
    }),
  ]);

  // Six executions at once: five single files (a worker each) and a folder of five (one batch worker).
  const responses = await Promise.all([
    ...[0, 1, 2, 3, 4].map((i) =>
      alice.post('/transfers', {
        source: { endpointId: partner, path: `limited/single-${i}.dat` },
        target: { endpointId: inbox, path: `single-${i}.dat` },
      }),
    ),
    alice.post('/transfers', {
      source: { endpointId: partner, path: 'limited/', pattern: 'batch-*' },
      target: { endpointId: inbox, path: 'batch' },
    }),
  ]);
  expect(responses.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201]);
  const jobIds = responses.flatMap((r) => (r.body.jobs as Array<{ jobId: string }>).map((job) => job.jobId));
  expect(jobIds).toHaveLength(10);
  const jobs = await Promise.all(jobIds.map((jobId) => awaitJob(alice, jobId, 120_000)));
  expect(jobs.map((job) => job.status)).toEqual(jobIds.map(() => 'SUCCEEDED'));
  for (const [name, content] of files) {
    const key = name.startsWith('batch') ? `limited/batch/${name}` : `limited/${name}`;
    expect(await read('customer-a-inbox', key)).toEqual(content);
  }

  // Validation, six API requests, six workers and the verifications: each its own session, never more than 2 at once.
  expect(proxy.connections).toBeGreaterThanOrEqual(13);
  expect(proxy.maxConcurrent).toBeLessThanOrEqual(2);
}, 240_000);
