/**
 * Jobs resume by themselves (issue 15): the reconciler of each region (its schedule runs every second
 * here) restarts the jobs whose execution is gone once their partition's lease is neither live nor
 * held, and a job whose partition the other region holds waits for it instead of failing.
 *
 * The other region is played by this test with the engine's own lease store and job store: it takes
 * the partition's lease as us-gov-east-1 and claims the job (RUNNING under its epoch), then "dies"
 * (never renews), or releases the lease. Everything else is the whole local engine: both regions'
 * API, state machine, reconciler and S3 server-side copy.
 */
import { createHash } from 'node:crypto';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { claimJob } from '../../core/control-plane/orchestration/orchestration';
import { StaleOwnerError } from '../../core/domain/errors';
import { partitionIdFor, type TransferJob } from '../../core/domain/job';
import { type LeaseToken, tokenOf } from '../../core/domain/lease';
import type { JobKey } from '../../core/domain/ports';
import type { ApiClient } from '../../local/api-client';
import { REGIONS } from '../../local/stack';
import { localStateMachineArn } from '../../local/step-functions';
import { activeEndpoint, startTestEngine, type TestEngine } from '../support/local-engine';
import '../support/integration-timeout';

/** The engine's lease TTL and reconcile grace; the other region's leases are expired by the test itself. */
const LEASE_TTL_MS = 2_000;
/** Long enough that only the test ends the other region's hold (expireLease), never the clock. */
const EAST_HOLD_MS = 10 * 60_000;

let engine: TestEngine;
let alice: ApiClient;
let s3: S3Client;

beforeAll(async () => {
  engine = await startTestEngine({
    EFT_LEASE_TTL_MS: String(LEASE_TTL_MS),
    EFT_RECONCILE_GRACE_MS: '500',
    // The state machine's retries (a held lease's 5, 10, 20 s) every 100 ms.
    EFT_LOCAL_RETRY_INTERVAL_MS: '100',
  });
  alice = engine.alice.west;
  s3 = new S3Client({
    endpoint: engine.stack.info.s3.endpoint,
    region: REGIONS.west,
    credentials: engine.stack.info.credentials,
    forcePathStyle: true,
  });
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await engine?.close();
});

const sha256 = (body: string | Uint8Array) => createHash('sha256').update(body).digest('hex');

/** A source and a target S3 endpoint of their own (so each test has its own partition), and a file to copy. */
async function s3Pair(name: string, content: string): Promise<{ source: string; target: string }> {
  const endpoint = (prefix: string, direction: string) => ({
    type: 'S3',
    name: `${name} ${direction}`,
    direction,
    s3: { bucket: prefix === 'in' ? 'customer-a-inbox' : 'customer-a-outbox', prefix: `${name}/`, region: REGIONS.west },
  });
  const [source, target] = await Promise.all([
    activeEndpoint(alice, endpoint('out', 'OUTBOUND')),
    activeEndpoint(alice, endpoint('in', 'INBOUND')),
  ]);
  await s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: `${name}/file.txt`, Body: content }));
  return { source, target };
}

/** POST /transfers of one file; its job's key. */
async function transfer(pair: { source: string; target: string }, from: string, to = from): Promise<JobKey> {
  const created = await alice.post('/transfers', {
    source: { endpointId: pair.source, path: from },
    target: { endpointId: pair.target, path: to },
  });
  expect(created.status).toBe(201);
  return { customerId: 'customer-a', jobId: created.body.jobs[0].jobId };
}

/** The other region takes the pair's partition lease, as an execution of its own, before any job of the pair runs. */
async function eastTakes(pair: { source: string; target: string }): Promise<LeaseToken> {
  const partitionId = partitionIdFor('customer-a', pair.source, pair.target);
  const executionId = `arn:aws-us-gov:states:${REGIONS.east}:000000000000:execution:eft-test:${pair.source}`;
  const lease = await engine.stores.leases.acquire(partitionId, { executionId, region: REGIONS.east }, EAST_HOLD_MS);
  return tokenOf(lease, executionId);
}

/** The other region dies: its lease is left to expire (the TTL's passing, made to happen now). */
async function expireLease(token: LeaseToken): Promise<void> {
  const db = new DynamoDBClient({
    endpoint: engine.stack.info.dynamodb.endpoint,
    region: REGIONS.west,
    credentials: engine.stack.info.credentials,
  });
  try {
    await db.send(
      new UpdateItemCommand({
        TableName: engine.stack.info.tables.leases,
        Key: { partitionId: { S: token.partitionId } },
        UpdateExpression: 'SET expiresAt = :past',
        ExpressionAttributeValues: { ':past': { N: String(Date.now() - 1) } },
      }),
    );
  } finally {
    db.destroy();
  }
}

/** Waits for the job to end (polling its state: the event awaited), failing after `timeoutMs`. */
async function ended(jobId: string, timeoutMs = 45_000): Promise<TransferJob> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await engine.stores.jobs.get({ customerId: 'customer-a', jobId });
    if (job && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} is still ${job?.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function executionStatus(name: string): Promise<string | undefined> {
  const sfn = new SFNClient({
    endpoint: engine.stack.info.stepFunctions[REGIONS.west],
    region: REGIONS.west,
    credentials: engine.stack.info.credentials,
  });
  try {
    const arn = localStateMachineArn(REGIONS.west, `eft-${engine.stack.info.stage}-transfer`).replace(
      ':stateMachine:',
      ':execution:',
    );
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: `${arn}:${name}` }));
    return execution.status;
  } finally {
    sfn.destroy();
  }
}

async function delivered(name: string): Promise<string> {
  const object = await s3.send(new GetObjectCommand({ Bucket: 'customer-a-inbox', Key: `${name}/file.txt` }));
  return sha256(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

it('a job whose partition the other region holds waits QUEUED (its execution ends, nothing fails), and runs once the lease is released', async () => {
  const content = 'waits its turn\n'.repeat(100);
  const pair = await s3Pair('deferred', content);
  const east = await eastTakes(pair);
  const key = await transfer(pair, 'file.txt');
  // Its execution meets the held lease, retries briefly, and ends deferred: observed, not timed.
  for (let status = await executionStatus(key.jobId); status !== 'SUCCEEDED'; status = await executionStatus(key.jobId)) {
    expect(status).toBe('RUNNING');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect((await engine.stores.jobs.get(key))?.status).toBe('QUEUED');

  await engine.stores.leases.release(east);
  const job = await ended(key.jobId);
  expect(job.status).toBe('SUCCEEDED');
  expect(await delivered('deferred')).toBe(sha256(content));
});

it('a RUNNING job of a region that died is resumed in a surviving region under a newer epoch, and the dead holder can write nothing more', async () => {
  const content = 'taken over\n'.repeat(1000);
  const pair = await s3Pair('takeover', content);
  // East holds the partition, so west's own execution of the job waits; east claims the job
  // (RUNNING under its epoch), then dies: its lease is never renewed.
  const east = await eastTakes(pair);
  const key = await transfer(pair, 'file.txt');
  expect((await claimJob(engine.stores.jobs, key, east)).action).toBe('RUN');
  await expireLease(east);

  const job = await ended(key.jobId);
  expect(job.status).toBe('SUCCEEDED');
  expect(job.fenceEpoch).toBeGreaterThan(east.epoch);
  expect(job.attempts).toBe(2);
  expect(await delivered('takeover')).toBe(sha256(content));
  // The dead region's token is fenced out: of the lease, and of the job.
  await expect(engine.stores.leases.renew(east, LEASE_TTL_MS)).rejects.toBeInstanceOf(StaleOwnerError);
  await expect(engine.stores.jobs.recordWork(key, east, { bytesTransferred: 1 })).rejects.toThrow();
});

it('a VERIFYING job whose execution is gone (the data was delivered) is verified and SUCCEEDED by itself', async () => {
  const content = 'delivered, never verified\n'.repeat(200);
  const pair = await s3Pair('verifying', content);
  const probe = await ended((await transfer(pair, 'file.txt')).jobId);
  expect(probe.status).toBe('SUCCEEDED');
  // A second job delivering the same content to the same file: east claims it, finds it delivered (as
  // after a copy whose execution died), records it VERIFYING with that result, and dies.
  await s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: 'verifying/again.txt', Body: content }));
  const east = await eastTakes(pair);
  const key = await transfer(pair, 'again.txt', 'file.txt');
  expect((await claimJob(engine.stores.jobs, key, east)).action).toBe('RUN');
  await engine.stores.jobs.transition(key, 'VERIFYING', {
    actor: 'test',
    region: REGIONS.east,
    fence: east,
    work: { result: { ...(probe.result as NonNullable<TransferJob['result']>), alreadyPresent: true } },
  });
  await expireLease(east);

  const job = await ended(key.jobId);
  expect(job.status).toBe('SUCCEEDED');
  expect(job.fenceEpoch).toBeGreaterThan(east.epoch);
});
