import { randomBytes } from 'node:crypto';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { ApiClient } from '../../local/api-client';
import { awaitJob } from '../../local/jobs';
import { activeEndpoint, startTestEngine, type TestEngine } from '../support/local-engine';

const MiB = 1024 * 1024;
let engine: TestEngine;
let alice: ApiClient;
let s3: S3Client;
let sourceId: string;
let targetId: string;
let run = 0;

const s3Endpoint = (bucket: string, prefix: string, direction: string) => ({
  type: 'S3',
  name: `${bucket} ${direction}`,
  direction,
  s3: { bucket, prefix, region: 'us-gov-west-1' },
});

async function put(bucket: string, key: string, body: Buffer | string) {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}
async function read(bucket: string, key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

beforeAll(async () => {
  engine = await startTestEngine({
    // Force the multipart copy path with small objects, and keep retry pauses short.
    COPY_MULTIPART_THRESHOLD_BYTES: String(1 * MiB),
    COPY_PART_SIZE_BYTES: String(5 * MiB),
    EFT_LOCAL_RETRY_INTERVAL_MS: '100',
  });
  alice = engine.alice.west;
  s3 = new S3Client({
    endpoint: engine.stack.info.s3.endpoint,
    region: 'us-gov-west-1',
    forcePathStyle: true,
    credentials: engine.stack.info.credentials,
  });
  sourceId = await activeEndpoint(alice, s3Endpoint('customer-a-outbox', 'out/', 'OUTBOUND'));
  targetId = await activeEndpoint(alice, s3Endpoint('customer-a-inbox', 'in/', 'INBOUND'));
}, 60_000);
afterAll(async () => {
  s3.destroy();
  await engine.close();
});
beforeEach(() => {
  run++;
});

const transfer = (source: string, target: string, extra: Record<string, unknown> = {}) => ({
  source: { endpointId: sourceId, path: source, ...extra },
  target: { endpointId: targetId, path: target },
});

describe('S3→S3 transfers through the API and the state machine', () => {
  it('copies a single object server-side and records every transition', async () => {
    const content = randomBytes(64 * 1024);
    await put('customer-a-outbox', `out/single-${run}.bin`, content);
    const created = await alice.post('/transfers', transfer(`single-${run}.bin`, `copied/single-${run}.bin`));
    expect(created.status).toBe(201);
    expect(created.body.jobs).toHaveLength(1);
    const job = await awaitJob(alice, created.body.jobs[0].jobId);
    expect(job).toMatchObject({ status: 'SUCCEEDED', flowType: 'S3_TO_S3', executionRegion: 'us-gov-west-1', attempts: 1 });
    expect(job.transitions.map((t: { status: string }) => t.status)).toEqual([
      'RECEIVED',
      'QUEUED',
      'RUNNING',
      'VERIFYING',
      'SUCCEEDED',
    ]);
    expect(job.result).toMatchObject({
      bytes: content.length,
      alreadyPresent: false,
      location: `s3://customer-a-inbox/in/copied/single-${run}.bin`,
    });
    expect((await read('customer-a-inbox', `in/copied/single-${run}.bin`)).equals(content)).toBe(true);
  });

  it('copies a multipart-size object part by part, byte for byte', async () => {
    const content = randomBytes(12 * MiB + 123);
    await put('customer-a-outbox', `out/large-${run}.bin`, content);
    const created = await alice.post('/transfers', transfer(`large-${run}.bin`, `large-${run}.bin`));
    const job = await awaitJob(alice, created.body.jobs[0].jobId);
    expect(job.status).toBe('SUCCEEDED');
    // Internals, read from the table: the copy went part by part (three parts of 5 MiB), checkpointing each.
    const stored = await engine.stores.jobs.get({ customerId: 'customer-a', jobId: job.jobId });
    expect((stored?.checkpoint?.s3Copy as { parts: unknown[] } | undefined)?.parts).toHaveLength(3);
    expect((await read('customer-a-inbox', `in/large-${run}.bin`)).equals(content)).toBe(true);
  });

  it('fans a folder out into one job per matching file, skipping what the target already holds', async () => {
    const files = ['a.csv', 'b.csv', 'c.csv', 'notes.txt'];
    for (const name of files) await put('customer-a-outbox', `out/batch-${run}/${name}`, `content of ${name}`);
    await put('customer-a-inbox', `in/batch-${run}/b.csv`, 'content of b.csv'); // already delivered earlier
    const created = await alice.post('/transfers', transfer(`batch-${run}/`, `batch-${run}`, { pattern: '*.csv' }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ jobCount: 3 });
    expect(created.body.jobs.map((j: { source: { path: string } }) => j.source.path).sort()).toEqual(
      ['a.csv', 'b.csv', 'c.csv'].map((name) => `batch-${run}/${name}`),
    );
    const done = await Promise.all(created.body.jobs.map((j: { jobId: string }) => awaitJob(alice, j.jobId)));
    expect(done.every((j) => j.status === 'SUCCEEDED' && j.requestId === created.body.requestId)).toBe(true);
    const present = done.find((j) => j.source.path.endsWith('b.csv'));
    expect(present.result.alreadyPresent).toBe(true);
    for (const name of ['a.csv', 'b.csv', 'c.csv']) {
      expect((await read('customer-a-inbox', `in/batch-${run}/${name}`)).toString()).toBe(`content of ${name}`);
    }
    const listed = await alice.get(`/jobs?requestId=${created.body.requestId}`);
    expect(listed.body.items).toHaveLength(3);
  });

  it('takes an endpoint’s base folder ("/") as a folder source or target, and a trailing "/" as a folder for one file', async () => {
    const from = await activeEndpoint(alice, {
      ...s3Endpoint('customer-a-outbox', `out/base-${run}/`, 'OUTBOUND'),
      name: `base-out-${run}`,
    });
    const to = await activeEndpoint(alice, {
      ...s3Endpoint('customer-a-inbox', `in/base-${run}`, 'INBOUND'),
      name: `base-in-${run}`,
    });
    for (const name of ['a.csv', 'b.csv', 'skip.txt']) await put('customer-a-outbox', `out/base-${run}/${name}`, `base ${name}`);
    const side = (endpointId: string, path: string, extra: Record<string, unknown> = {}) => ({ endpointId, path, ...extra });

    const folder = await alice.post('/transfers', { source: side(from, '/', { pattern: '*.csv' }), target: side(to, '/') });
    expect(folder.status).toBe(201);
    expect(folder.body.jobs.map((j: { source: { path: string } }) => j.source.path).sort()).toEqual(['a.csv', 'b.csv']);
    expect(folder.body.jobs.map((j: { target: { path: string } }) => j.target.path).sort()).toEqual(['a.csv', 'b.csv']);
    const intoSub = await alice.post('/transfers', { source: side(from, 'skip.txt'), target: side(to, 'sub/') });
    const intoBase = await alice.post('/transfers', { source: side(from, 'skip.txt'), target: side(to, '/') });
    expect(intoSub.body.jobs[0].target.path).toBe('sub/skip.txt');
    expect(intoBase.body.jobs[0].target.path).toBe('skip.txt');
    const jobs = [...folder.body.jobs, ...intoSub.body.jobs, ...intoBase.body.jobs];
    const done = await Promise.all(jobs.map((j: { jobId: string }) => awaitJob(alice, j.jobId)));
    expect(done.map((j) => j.status)).toEqual(jobs.map(() => 'SUCCEEDED'));
    for (const key of ['a.csv', 'b.csv', 'sub/skip.txt', 'skip.txt']) {
      expect((await read('customer-a-inbox', `in/base-${run}/${key}`)).toString()).toBe(`base ${key.replace('sub/', '')}`);
    }

    // One file into its own folder under its own name is a copy onto itself.
    const both = await activeEndpoint(alice, {
      ...s3Endpoint('customer-a-outbox', `out/base-${run}/`, 'BOTH'),
      name: `base-both-${run}`,
    });
    const self = await alice.post('/transfers', { source: side(both, 'a.csv'), target: side(both, '/') });
    expect(self.status).toBe(400);
    expect(self.body.error.fields).toEqual([
      { field: 'target.path', message: 'is the source file itself: a file cannot be copied onto itself' },
    ]);
  });
});

describe('idempotency', () => {
  it('answers a replayed request with the same jobs (201, then 200) and creates none', async () => {
    await put('customer-a-outbox', `out/replay-${run}.txt`, 'once');
    const body = transfer(`replay-${run}.txt`, `replay-${run}.txt`);
    const first = await alice.post('/transfers', body);
    const second = await alice.post('/transfers', body);
    const fromEast = await engine.alice.east.post('/transfers', body);
    expect([first.status, second.status, fromEast.status]).toEqual([201, 200, 200]);
    expect(second.body.requestId).toBe(first.body.requestId);
    expect(second.body.jobs[0].jobId).toBe(first.body.jobs[0].jobId);
    expect(fromEast.body.jobs[0].jobId).toBe(first.body.jobs[0].jobId);
    expect((await awaitJob(alice, first.body.jobs[0].jobId)).status).toBe('SUCCEEDED');
    expect((await alice.get(`/jobs?requestId=${first.body.requestId}`)).body.items).toHaveLength(1);
  });

  it('creates one job when identical requests race in both regions', async () => {
    await put('customer-a-outbox', `out/race-${run}.txt`, 'race');
    const body = transfer(`race-${run}.txt`, `race-${run}.txt`);
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? engine.alice.east : alice).post('/transfers', body)),
    );
    expect(new Set(responses.map((r) => r.body.jobs[0].jobId)).size).toBe(1);
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    const job = await awaitJob(alice, responses[0]?.body.jobs[0].jobId);
    expect(job.status).toBe('SUCCEEDED');
    expect(job.attempts).toBe(1);
  });

  it('maps an Idempotency-Key onto the same request, and refuses it for a different transfer', async () => {
    await put('customer-a-outbox', `out/keyed-${run}.txt`, 'keyed');
    const key = `client-key-${run}-${Date.now()}`;
    const first = await alice.request('POST', '/transfers', transfer(`keyed-${run}.txt`, `keyed-${run}.txt`), {
      'idempotency-key': key,
    });
    const again = await alice.request('POST', '/transfers', transfer(`keyed-${run}.txt`, `keyed-${run}.txt`), {
      'idempotency-key': key,
    });
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.jobs[0].jobId).toBe(first.body.jobs[0].jobId);
    const misuse = await alice.request('POST', '/transfers', transfer(`keyed-${run}.txt`, `elsewhere-${run}.txt`), {
      'idempotency-key': key,
    });
    expect(misuse.status).toBe(409);
    expect(misuse.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });
});

/** Waits for the job's execution (named by the job id) in the west region's local Step Functions. */
async function awaitExecution(jobId: string, timeoutMs = 30_000) {
  const sfn = new SFNClient({
    endpoint: engine.stack.info.stepFunctions['us-gov-west-1'],
    region: 'us-gov-west-1',
    credentials: engine.stack.info.credentials,
  });
  const executionArn = `arn:aws-us-gov:states:us-gov-west-1:000000000000:execution:eft-${engine.stack.info.stage}-transfer:${jobId}`;
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (execution.status !== 'RUNNING') return execution;
      if (Date.now() > deadline) throw new Error(`execution ${executionArn} still running`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    sfn.destroy();
  }
}

describe('cancel, leases and re-drive', () => {
  const leasesTable = () => engine.stack.info.tables.leases;
  const db = () =>
    new DynamoDBClient({
      endpoint: engine.stack.info.dynamodb.endpoint,
      region: 'us-gov-west-1',
      credentials: engine.stack.info.credentials,
    });

  it('waits while the other region holds the partition, never runs twice, and can be cancelled before it starts', async () => {
    await put('customer-a-outbox', `out/held-${run}.txt`, 'held');
    // us-gov-east-1 holds this customer's source→target partition.
    const partitionId = `customer-a#${sourceId}#${targetId}`;
    const client = db();
    await client.send(
      new UpdateItemCommand({
        TableName: leasesTable(),
        Key: marshall({ partitionId }),
        UpdateExpression:
          'SET ownerRegion = :east, expiresAt = :later, epoch = if_not_exists(epoch, :zero) + :one, executions = :ids',
        ExpressionAttributeValues: marshall({
          ':east': 'us-gov-east-1',
          ':later': Date.now() + 60_000,
          ':zero': 0,
          ':one': 1,
          ':ids': new Set(['east-exec']),
        }),
      }),
    );
    try {
      const created = await alice.post('/transfers', transfer(`held-${run}.txt`, `held-${run}.txt`));
      const jobId = created.body.jobs[0].jobId;
      // Give the execution time for several lease attempts (100 ms apart locally): a window to misbehave in.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect((await alice.get(`/jobs/${jobId}`)).body.status).toBe('QUEUED');
      const cancelled = await alice.post(`/jobs/${jobId}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.status).toBe('CANCELLED');
      expect((await alice.post(`/jobs/${jobId}/cancel`)).status).toBe(200);

      // East lets go: the waiting execution gets the lease, finds the job cancelled, and skips it.
      await client.send(
        new UpdateItemCommand({
          TableName: leasesTable(),
          Key: marshall({ partitionId }),
          UpdateExpression: 'SET expiresAt = :zero REMOVE executions',
          ExpressionAttributeValues: marshall({ ':zero': 0 }),
        }),
      );
      const execution = await awaitExecution(jobId);
      expect(execution.status).toBe('SUCCEEDED');
      const job = (await alice.get(`/jobs/${jobId}`)).body;
      expect(job.transitions.map((t: { status: string }) => t.status)).toEqual(['RECEIVED', 'QUEUED', 'CANCELLED']);
      expect(
        await s3.send(new GetObjectCommand({ Bucket: 'customer-a-inbox', Key: `in/held-${run}.txt` })).catch((e) => e.name),
      ).toBe('NoSuchKey');
    } finally {
      client.destroy();
    }
  });

  it('refuses to cancel a job that has finished', async () => {
    await put('customer-a-outbox', `out/done-${run}.txt`, 'done');
    const created = await alice.post('/transfers', transfer(`done-${run}.txt`, `done-${run}.txt`));
    const job = await awaitJob(alice, created.body.jobs[0].jobId);
    const cancel = await alice.post(`/jobs/${job.jobId}/cancel`);
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('ILLEGAL_TRANSITION');
  });

  it('fails a job whose target holds different content, and a re-drive delivers it once that is cleared', async () => {
    await put('customer-a-outbox', `out/conflict-${run}.txt`, 'the new content');
    await put('customer-a-inbox', `in/conflict-${run}.txt`, 'something else entirely');
    const created = await alice.post('/transfers', transfer(`conflict-${run}.txt`, `conflict-${run}.txt`));
    const failed = await awaitJob(alice, created.body.jobs[0].jobId);
    expect(failed).toMatchObject({ status: 'FAILED', error: { code: 'TARGET_EXISTS' } });
    expect((await read('customer-a-inbox', `in/conflict-${run}.txt`)).toString()).toBe('something else entirely');

    await s3.send(new DeleteObjectCommand({ Bucket: 'customer-a-inbox', Key: `in/conflict-${run}.txt` }));
    const redriven = await alice.post(`/jobs/${failed.jobId}/redrive`);
    expect(redriven.status).toBe(201);
    expect(redriven.body).toMatchObject({ redriveOf: failed.jobId });
    expect(redriven.body.jobId).not.toBe(failed.jobId);
    expect((await alice.post(`/jobs/${failed.jobId}/redrive`)).body.jobId).toBe(redriven.body.jobId);
    expect((await awaitJob(alice, redriven.body.jobId)).status).toBe('SUCCEEDED');
    expect((await read('customer-a-inbox', `in/conflict-${run}.txt`)).toString()).toBe('the new content');
    expect((await alice.post(`/jobs/${redriven.body.jobId}/redrive`)).status).toBe(409);
  });
});

describe('bad transfer requests get a 4xx and create nothing', () => {
  async function jobCount(): Promise<number> {
    return (await alice.get('/jobs?limit=100')).body.items.length;
  }

  it.each<[string, () => unknown, number]>([
    [
      'an unknown source endpoint',
      () => ({ ...transfer('x.txt', 'x.txt'), source: { endpointId: 'ep_00000000000000000000000000', path: 'x.txt' } }),
      404,
    ],
    ['a traversing source path', () => transfer('../other-customer/secret.txt', 'x.txt'), 400],
    ['a traversing target path', () => transfer('exists.txt', 'a/../../../etc/passwd'), 400],
    ['an empty path', () => transfer('', 'x.txt'), 400],
    ['a missing target', () => ({ source: { endpointId: sourceId, path: 'exists.txt' } }), 400],
    ['an unknown field', () => ({ ...transfer('exists.txt', 'x.txt'), priority: 'urgent' }), 400],
    ['a source file that does not exist', () => transfer('no-such-file.txt', 'x.txt'), 400],
    [
      'the target endpoint as a source (direction)',
      () => ({ ...transfer('x', 'y'), source: { endpointId: targetId, path: 'x' } }),
      400,
    ],
    ['a malformed body', () => '{"source": ', 400],
  ])('%s', async (_case, body, status) => {
    await put('customer-a-outbox', 'out/exists.txt', 'exists');
    const before = await jobCount();
    const response = await alice.post('/transfers', body());
    expect(response.status).toBe(status);
    expect(response.body.error.message.length).toBeGreaterThan(0);
    expect(await jobCount()).toBe(before);
  });

  it('refuses another customer’s endpoints as if they did not exist', async () => {
    const response = await engine.bob.west.post('/transfers', transfer('exists.txt', 'x.txt'));
    expect(response.status).toBe(404);
    expect(response.body.error.message).toBe(`endpoint ${sourceId} not found`);
  });

  it('refuses a disabled endpoint with 409', async () => {
    const disabled = await activeEndpoint(alice, s3Endpoint('customer-a-inbox', 'disabled/', 'INBOUND'));
    await alice.delete(`/endpoints/${disabled}`);
    const before = await jobCount();
    const response = await alice.post('/transfers', {
      ...transfer('exists.txt', 'x.txt'),
      target: { endpointId: disabled, path: 'x.txt' },
    });
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe('ENDPOINT_NOT_ACTIVE');
    expect(await jobCount()).toBe(before);
  });

  it('answers another customer’s job with 404 on every operation', async () => {
    await put('customer-a-outbox', `out/mine-${run}.txt`, 'mine');
    const created = await alice.post('/transfers', transfer(`mine-${run}.txt`, `mine-${run}.txt`));
    const jobId = created.body.jobs[0].jobId;
    for (const response of [
      await engine.bob.west.get(`/jobs/${jobId}`),
      await engine.bob.west.post(`/jobs/${jobId}/cancel`),
      await engine.bob.west.post(`/jobs/${jobId}/redrive`),
    ]) {
      expect(response.status).toBe(404);
    }
    expect((await engine.bob.west.get('/jobs?limit=100')).body.items).toEqual([]);
  });
});
