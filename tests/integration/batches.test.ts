import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ApiClient } from '../../local/api-client';
import { awaitJob } from '../../local/jobs';
import { activeEndpoint, partnerEndpoint, startTestEngine, type TestEngine } from '../support/local-engine';

/**
 * Small files through SFTP are batched: one execution and one worker task
 * move many files over one SFTP session per endpoint, each file still its own
 * job. Through the whole local engine (API, state machine, worker processes).
 */
let engine: TestEngine;
let alice: ApiClient;
let s3: S3Client;
let partnerOut: string;
let partnerIn: string;
let outbox: string;
let inbox: string;
let run = 0;

async function read(bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  } catch {
    return undefined;
  }
}

/** Writes `count` small random files into the partner's folder; returns them by name. */
async function partnerFiles(folder: string, count: number): Promise<Map<string, Buffer>> {
  const dir = join(engine.stack.info.partnerSftp.root, 'outbound', folder);
  await mkdir(dir, { recursive: true });
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const name = `f-${String(i).padStart(3, '0')}.dat`;
    const content = randomBytes(512 + i * 37);
    await writeFile(join(dir, name), content);
    files.set(name, content);
  }
  return files;
}

// biome-ignore lint/suspicious/noExplicitAny: job views as the API returns them (JSON)
async function jobsOf(requestId: string, count: number): Promise<Array<Record<string, any>>> {
  const listed = await alice.get(`/jobs?requestId=${requestId}&limit=100`);
  expect(listed.body.items).toHaveLength(count);
  return Promise.all((listed.body.items as Array<{ jobId: string }>).map((job) => awaitJob(alice, job.jobId, 120_000)));
}

beforeAll(async () => {
  engine = await startTestEngine({ EFT_LOCAL_RETRY_INTERVAL_MS: '100' });
  alice = engine.alice.west;
  const info = engine.stack.info;
  s3 = new S3Client({ endpoint: info.s3.endpoint, region: 'us-gov-west-1', forcePathStyle: true, credentials: info.credentials });
  await mkdir(join(info.partnerSftp.root, 'outbound'), { recursive: true });
  await mkdir(join(info.partnerSftp.root, 'inbound'), { recursive: true });
  const sftpEndpoint = (name: string, basePath: string) => partnerEndpoint(info, { name, direction: 'BOTH', basePath });
  const s3Endpoint = (name: string, bucket: string, prefix: string) => ({
    type: 'S3',
    name,
    direction: 'BOTH',
    s3: { bucket, prefix, region: 'us-gov-west-1' },
  });
  [partnerOut, partnerIn, outbox, inbox] = await Promise.all([
    activeEndpoint(alice, await sftpEndpoint('partner outbound', '/outbound')),
    activeEndpoint(alice, await sftpEndpoint('partner inbound', '/inbound')),
    activeEndpoint(alice, s3Endpoint('outbox', 'customer-a-outbox', 'out/')),
    activeEndpoint(alice, s3Endpoint('inbox', 'customer-a-inbox', 'in/')),
  ]);
}, 120_000);
afterAll(async () => {
  s3.destroy();
  await engine.close();
});
beforeEach(() => {
  run++;
});

describe('batches of small files', () => {
  it('moves a folder of small SFTP files to S3 in one execution, one job per file, byte for byte', async () => {
    const files = await partnerFiles(`batch-${run}`, 40);
    const response = await alice.post('/transfers', {
      source: { endpointId: partnerOut, path: `batch-${run}/` },
      target: { endpointId: inbox, path: `batch-${run}` },
    });
    expect(response.status).toBe(201);
    const jobs = await jobsOf(response.body.requestId, files.size);
    for (const job of jobs) {
      expect(job.status).toBe('SUCCEEDED');
      expect(job.transitions.map((t: { status: string }) => t.status)).toEqual([
        'RECEIVED',
        'QUEUED',
        'RUNNING',
        'VERIFYING',
        'SUCCEEDED',
      ]);
    }
    // One execution (the batch's) ran every job.
    const executions = new Set(
      await Promise.all(
        jobs.map(
          async (job) => (await engine.stores.jobs.get({ customerId: 'customer-a', jobId: job.jobId }))?.runningExecutionId,
        ),
      ),
    );
    expect(executions.size).toBe(1);
    expect([...executions][0]).toMatch(/:batch_[0-9a-z]{26}$/);
    for (const [name, content] of files) expect(await read('customer-a-inbox', `in/batch-${run}/${name}`)).toEqual(content);

    // A replay maps onto the same jobs and the same (finished) batch: nothing runs twice.
    const replay = await alice.post('/transfers', {
      source: { endpointId: partnerOut, path: `batch-${run}/` },
      target: { endpointId: inbox, path: `batch-${run}` },
    });
    expect(replay.status).toBe(200);
    expect(replay.body.jobs.every((job: { status: string }) => job.status === 'SUCCEEDED')).toBe(true);
  }, 180_000);

  it('fails only the file whose target holds other content; the rest of the batch is delivered', async () => {
    const files = await partnerFiles(`mixed-${run}`, 12);
    const blocked = 'f-005.dat';
    await s3.send(new PutObjectCommand({ Bucket: 'customer-a-inbox', Key: `in/mixed-${run}/${blocked}`, Body: 'someone else' }));
    const response = await alice.post('/transfers', {
      source: { endpointId: partnerOut, path: `mixed-${run}/` },
      target: { endpointId: inbox, path: `mixed-${run}` },
    });
    expect(response.status).toBe(201);
    const jobs = await jobsOf(response.body.requestId, files.size);
    const byName = new Map(jobs.map((job) => [(job.source.path as string).split('/').pop() as string, job]));
    expect(byName.get(blocked)).toMatchObject({ status: 'FAILED', error: { code: 'TARGET_EXISTS' } });
    expect(await read('customer-a-inbox', `in/mixed-${run}/${blocked}`)).toEqual(Buffer.from('someone else'));
    for (const [name, content] of files) {
      if (name === blocked) continue;
      expect(byName.get(name)?.status).toBe('SUCCEEDED');
      expect(await read('customer-a-inbox', `in/mixed-${run}/${name}`)).toEqual(content);
    }
  }, 180_000);

  it('delivers a batch of S3 objects to SFTP under their final names, no temporary file left', async () => {
    const contents = Array.from({ length: 10 }, (_, i) => randomBytes(700 + i));
    // The target folder does not exist: eft creates it (the request's target.createDirectories, default true).
    const dir = join(engine.stack.info.partnerSftp.root, 'inbound', `push-${run}`);
    await Promise.all(
      contents.map((body, i) =>
        s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: `out/push-${run}/o-${i}.bin`, Body: body })),
      ),
    );
    const response = await alice.post('/transfers', {
      source: { endpointId: outbox, path: `push-${run}/` },
      target: { endpointId: partnerIn, path: `push-${run}` },
    });
    expect(response.status).toBe(201);
    const jobs = await jobsOf(response.body.requestId, contents.length);
    expect(jobs.map((job) => [job.status, job.error])).toEqual(contents.map(() => ['SUCCEEDED', undefined]));
    expect((await readdir(dir)).sort()).toEqual(contents.map((_, i) => `o-${i}.bin`).sort());
    for (const [i, body] of contents.entries()) expect(await readFile(join(dir, `o-${i}.bin`))).toEqual(body);
  }, 180_000);
});
