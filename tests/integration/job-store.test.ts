import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { DynamoAuditLog } from '../../core/adapters/dynamodb/audit-log';
import { DynamoJobStore } from '../../core/adapters/dynamodb/job-store';
import { ManualClock } from '../../core/domain/clock';
import { ConflictError, IllegalTransitionError, StaleOwnerError, ValidationError } from '../../core/domain/errors';
import { deriveIdempotencyKey, type JobStatus, jobIdFor, type TransferJob } from '../../core/domain/job';
import type { NewJob } from '../../core/domain/ports';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';

let dynamo: TestDynamo;
let clock: ManualClock;
let audit: DynamoAuditLog;
let jobs: DynamoJobStore;
let seq = 0;
const WEST = { actor: 'sfn:west', region: 'us-gov-west-1' };
const ALICE = { actor: 'customer:alice', region: 'us-gov-west-1' };
const BOB = { actor: 'customer:bob', region: 'us-gov-east-1' };

beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(() => dynamo.close());
beforeEach(() => {
  clock = new ManualClock();
  audit = new DynamoAuditLog(dynamo.db, dynamo.tables.audit, clock);
  jobs = new DynamoJobStore(dynamo.db, dynamo.tables.jobs, audit, clock);
});

function newJob(overrides: Partial<NewJob> = {}): NewJob {
  const file = `/in/file-${++seq}.csv`;
  const base = {
    customerId: 'cust-a',
    flowType: 'S3_TO_S3' as const,
    sourceEndpointId: 'ep_src',
    sourcePath: file,
    targetEndpointId: 'ep_dst',
    targetPath: `out${file}`,
    ...overrides,
  };
  return { ...base, idempotencyKey: overrides.idempotencyKey ?? deriveIdempotencyKey({ ...base, file: { size: 10 } }) };
}

async function countJobsWithKey(customerId: string, jobId: string): Promise<number> {
  const result = await dynamo.db.send(
    new QueryCommand({
      TableName: dynamo.tables.jobs,
      KeyConditionExpression: 'customerId = :c AND jobId = :j',
      ExpressionAttributeValues: { ':c': { S: customerId }, ':j': { S: jobId } },
    }),
  );
  return result.Count ?? 0;
}

describe('job creation', () => {
  it('persists a RECEIVED job with its partition and first transition', async () => {
    const { job, created } = await jobs.create(newJob(), ALICE);
    expect(created).toBe(true);
    expect(job).toMatchObject({ status: 'RECEIVED', attempts: 0, partitionId: 'cust-a#ep_src#ep_dst' });
    expect(job.transitions).toEqual([
      { status: 'RECEIVED', at: job.createdAt, region: 'us-gov-west-1', actor: 'customer:alice' },
    ]);
    expect(await jobs.get(job)).toEqual(job);
  });

  it('persists a job RECEIVED and QUEUED in one write when its execution starts right away', async () => {
    const { job } = await jobs.create(newJob(), ALICE, { queued: true });
    expect(job.status).toBe('QUEUED');
    expect(job.transitions.map((t) => t.status)).toEqual(['RECEIVED', 'QUEUED']);
    expect(await jobs.get(job)).toEqual(job);
    const trail = await audit.list(`job#${job.jobId}`, { limit: 50 });
    expect(trail.items.map((e) => e.action)).toEqual(['job.created', 'job.queued']);
    // It can only move on.
    await expect(jobs.transition(job, 'QUEUED', ALICE)).rejects.toThrow();
  });

  it('creates the jobs of a request in order, with the audit events of each created job, once', async () => {
    const existing = newJob();
    await jobs.create(existing, ALICE, { queued: true });
    const inputs = [...Array.from({ length: 20 }, () => newJob()), existing];
    const outcomes = await jobs.createMany(inputs, ALICE, { queued: true });
    expect(outcomes.map((o) => o.job.jobId)).toEqual(inputs.map((input) => jobIdFor(input.customerId, input.idempotencyKey)));
    expect(outcomes.map((o) => o.created)).toEqual([...Array(20).fill(true), false]);
    // 40 events (20 new jobs × 2; the replayed one had its 2 already): more than one batch of 25.
    for (const { job } of outcomes) {
      const trail = await audit.list(`job#${job.jobId}`, { limit: 50 });
      expect(trail.items.map((e) => `${e.action} ${e.actor}`)).toEqual([
        'job.created customer:alice',
        'job.queued customer:alice',
      ]);
      expect(await jobs.get(job)).toMatchObject({ status: 'QUEUED' });
    }
    const replay = await jobs.createMany(inputs, ALICE, { queued: true });
    expect(replay.every((o) => !o.created)).toBe(true);
    const trail = await audit.list(`job#${outcomes[0]?.job.jobId}`, { limit: 50 });
    expect(trail.items).toHaveLength(2);
  });

  it('keeps the audit events of the jobs it created when another job of the request is refused', async () => {
    const reused = newJob({ idempotencyKey: `client-key-many-${seq}` });
    await jobs.create(reused, ALICE);
    const fresh = [newJob(), newJob()];
    await expect(
      jobs.createMany([fresh[0] as NewJob, { ...reused, targetPath: 'elsewhere.csv' }, fresh[1] as NewJob], ALICE),
    ).rejects.toBeInstanceOf(ConflictError);
    for (const input of fresh) {
      const jobId = jobIdFor(input.customerId, input.idempotencyKey);
      expect(await jobs.get({ customerId: input.customerId, jobId })).toMatchObject({ status: 'RECEIVED' });
      expect((await audit.list(`job#${jobId}`, { limit: 10 })).items.map((e) => e.action)).toEqual(['job.created']);
    }
  });

  it('creates exactly one job when many requests race with one idempotency key', async () => {
    const input = newJob();
    const results = await Promise.all(Array.from({ length: 25 }, () => jobs.create(input, ALICE)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.jobId)).size).toBe(1);
    expect(await countJobsWithKey('cust-a', results[0]?.job.jobId ?? '')).toBe(1);
  });

  it('returns the existing job, unchanged, on a replay', async () => {
    const input = newJob();
    const first = await jobs.create(input, ALICE);
    await jobs.transition(first.job, 'QUEUED', WEST);
    const replay = await jobs.create(input, ALICE);
    expect(replay.created).toBe(false);
    expect(replay.job.status).toBe('QUEUED');
  });

  it('refuses an idempotency key reused for a different transfer', async () => {
    const first = newJob({ idempotencyKey: `client-key-${seq}` });
    await jobs.create(first, ALICE);
    const other = { ...first, targetPath: 'somewhere/else.csv' };
    await expect(jobs.create(other, ALICE)).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    await expect(jobs.create(other, ALICE)).rejects.toBeInstanceOf(ConflictError);
  });

  it('scopes idempotency keys to the customer', async () => {
    const key = `shared-key-${seq}`;
    const a = await jobs.create(newJob({ idempotencyKey: key }), ALICE);
    const b = await jobs.create(newJob({ idempotencyKey: key, customerId: 'cust-b' }), BOB);
    expect(b.created).toBe(true);
    expect(b.job.jobId).not.toBe(a.job.jobId);
    expect(await jobs.get({ customerId: 'cust-b', jobId: a.job.jobId })).toBeUndefined();
  });
});

describe('job transitions', () => {
  it('records every step of the lifecycle with its time, region and actor', async () => {
    const { job } = await jobs.create(newJob(), ALICE);
    const steps: JobStatus[] = ['QUEUED', 'RUNNING', 'VERIFYING', 'SUCCEEDED'];
    for (const status of steps) {
      clock.advance(1000);
      await jobs.transition(job, status, WEST);
    }
    const done = await jobs.get(job);
    expect(done?.status).toBe('SUCCEEDED');
    expect(done?.transitions.map((t) => t.status)).toEqual(['RECEIVED', ...steps]);
    expect(done?.transitions.map((t) => Date.parse(t.at) - Date.parse(job.createdAt))).toEqual([0, 1000, 2000, 3000, 4000]);
    expect(done).toMatchObject({ attempts: 1, executionRegion: 'us-gov-west-1', completedAt: done?.transitions[4]?.at });
    const trail = await audit.list(`job#${job.jobId}`, { limit: 50 });
    expect(trail.items.map((e) => [e.action, e.actor])).toEqual([
      ['job.created', 'customer:alice'],
      ['job.queued', 'sfn:west'],
      ['job.running', 'sfn:west'],
      ['job.verifying', 'sfn:west'],
      ['job.succeeded', 'sfn:west'],
    ]);
  });

  it.each<[JobStatus[], JobStatus]>([
    [[], 'RUNNING'],
    [[], 'SUCCEEDED'],
    [['QUEUED', 'RUNNING'], 'CANCELLED'],
    [['QUEUED', 'RUNNING'], 'QUEUED'],
    [['QUEUED', 'RUNNING', 'VERIFYING', 'SUCCEEDED'], 'FAILED'],
    [['CANCELLED'], 'QUEUED'],
    [['FAILED'], 'RUNNING'],
  ])('after %j refuses a move to %s and leaves the job as it was', async (path, illegal) => {
    const { job } = await jobs.create(newJob(), ALICE);
    for (const status of path) await jobs.transition(job, status, WEST);
    const before = await jobs.get(job);
    await expect(jobs.transition(job, illegal, WEST)).rejects.toBeInstanceOf(IllegalTransitionError);
    expect(await jobs.get(job)).toEqual(before);
  });

  it('applies exactly one of many racing transitions out of the same state', async () => {
    const { job } = await jobs.create(newJob(), ALICE);
    await jobs.transition(job, 'QUEUED', WEST);
    const racers = [
      ...Array.from({ length: 8 }, () => jobs.transition(job, 'RUNNING', WEST)),
      ...Array.from({ length: 8 }, () => jobs.transition(job, 'CANCELLED', { actor: 'customer:alice', region: 'us-gov-east-1' })),
    ];
    const results = await Promise.allSettled(racers);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const final = await jobs.get(job);
    expect(final?.transitions).toHaveLength(3);
    expect(final?.attempts).toBe(final?.status === 'RUNNING' ? 1 : 0);
  });

  it('refuses a write from an older lease epoch once a newer one has written', async () => {
    const { job } = await jobs.create(newJob(), ALICE);
    const partitionId = job.partitionId;
    await jobs.transition(job, 'QUEUED', {
      ...WEST,
      fence: { partitionId, executionId: 'west-1', region: 'us-gov-west-1', epoch: 1 },
    });
    await jobs.transition(job, 'RUNNING', {
      actor: 'sfn:east',
      region: 'us-gov-east-1',
      fence: { partitionId, executionId: 'east-1', region: 'us-gov-east-1', epoch: 2 },
    });
    const stale = jobs.transition(job, 'FAILED', {
      ...WEST,
      errorCode: 'X',
      fence: { partitionId, executionId: 'west-1', region: 'us-gov-west-1', epoch: 1 },
    });
    await expect(stale).rejects.toBeInstanceOf(StaleOwnerError);
    expect(await jobs.get(job)).toMatchObject({ status: 'RUNNING', fenceEpoch: 2, executionRegion: 'us-gov-east-1' });
  });

  it('records the reason of a failure', async () => {
    const { job } = await jobs.create(newJob(), ALICE);
    const failed = await jobs.transition(job, 'FAILED', { ...WEST, errorCode: 'SOURCE_MISSING', errorMessage: 'no such file' });
    expect(failed).toMatchObject({ status: 'FAILED', errorCode: 'SOURCE_MISSING', errorMessage: 'no such file' });
  });
});

describe('job listing', () => {
  it('pages through a request’s jobs and filters by status', async () => {
    const requestId = `req-${seq}`;
    const created = [];
    for (let i = 0; i < 5; i++) created.push((await jobs.create(newJob({ requestId, customerId: 'cust-list' }), ALICE)).job);
    await jobs.transition(created[0] as TransferJob, 'CANCELLED', WEST);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await jobs.list('cust-list', { requestId }, { limit: 2, cursor });
      seen.push(...page.items.map((j) => j.jobId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(created.map((j) => j.jobId).sort());
    const cancelled = await jobs.list('cust-list', { status: 'CANCELLED' }, { limit: 50 });
    expect(cancelled.items.map((j) => j.jobId)).toEqual([created[0]?.jobId]);
  });

  it('refuses a cursor issued to another customer', async () => {
    for (let i = 0; i < 2; i++) await jobs.create(newJob({ customerId: 'cust-cursor' }), ALICE);
    const page = await jobs.list('cust-cursor', {}, { limit: 1 });
    expect(page.nextCursor).toBeDefined();
    await expect(jobs.list('cust-other', {}, { limit: 1, cursor: page.nextCursor })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('data-plane work on a running job', () => {
  it('records progress and results under the lease, and clears an earlier attempt’s error', async () => {
    const { job } = await jobs.create(newJob(), ALICE);
    const fence = { partitionId: job.partitionId, executionId: 'west-1', region: 'us-gov-west-1', epoch: 1 };
    await jobs.transition(job, 'QUEUED', WEST);
    await jobs.transition(job, 'RUNNING', { ...WEST, fence });
    await jobs.recordWork(job, fence, {
      bytesTransferred: 5,
      bytesTotal: 10,
      lastError: { code: 'CONNECTION_LOST', message: 'reset' },
    });
    const done = await jobs.recordWork(job, fence, {
      bytesTransferred: 10,
      result: { bytes: 10, location: 's3://b/k', alreadyPresent: false },
    });
    expect(done).toMatchObject({ bytesTransferred: 10, bytesTotal: 10, result: { bytes: 10 } });
    expect(done.lastError).toBeUndefined();
  });

  it('refuses work from an older epoch and on a job that is not running', async () => {
    const { job } = await jobs.create(newJob(), ALICE);
    const old = { partitionId: job.partitionId, executionId: 'west-1', region: 'us-gov-west-1', epoch: 1 };
    const current = { ...old, executionId: 'east-1', region: 'us-gov-east-1', epoch: 2 };
    await expect(jobs.recordWork(job, old, { bytesTransferred: 1 })).rejects.toBeInstanceOf(IllegalTransitionError);
    await jobs.transition(job, 'QUEUED', WEST);
    await jobs.transition(job, 'RUNNING', { ...WEST, fence: current });
    await expect(jobs.recordWork(job, old, { bytesTransferred: 1 })).rejects.toBeInstanceOf(StaleOwnerError);
    expect((await jobs.get(job))?.bytesTransferred).toBeUndefined();
  });

  it('hands a delivered job to verification with its result in one write, only under the current lease', async () => {
    const { job } = await jobs.create(newJob(), ALICE, { queued: true });
    const old = { partitionId: job.partitionId, executionId: 'west-1', region: 'us-gov-west-1', epoch: 1 };
    const current = { ...old, executionId: 'east-1', region: 'us-gov-east-1', epoch: 2 };
    await jobs.transition(job, 'RUNNING', { ...WEST, fence: current });
    await jobs.recordWork(job, current, { lastError: { code: 'CONNECTION_LOST', message: 'reset' } });
    const result = { bytes: 10, location: 's3://b/k', alreadyPresent: false };
    const work = { result, bytesTransferred: 10, bytesTotal: 10 };

    await expect(jobs.transition(job, 'VERIFYING', { ...WEST, fence: old, work })).rejects.toBeInstanceOf(StaleOwnerError);
    expect(await jobs.get(job)).toMatchObject({ status: 'RUNNING', lastError: { code: 'CONNECTION_LOST' } });
    expect((await jobs.get(job))?.result).toBeUndefined();

    const delivered = await jobs.transition(job, 'VERIFYING', {
      actor: 'data-plane',
      region: 'us-gov-east-1',
      fence: current,
      work,
    });
    expect(delivered).toMatchObject({ status: 'VERIFYING', result, bytesTransferred: 10, bytesTotal: 10, fenceEpoch: 2 });
    expect(delivered.lastError).toBeUndefined();
    expect(delivered.transitions.map((t) => `${t.status} ${t.actor}`).at(-1)).toBe('VERIFYING data-plane');
    const trail = await audit.list(`job#${job.jobId}`, { limit: 10 });
    expect(trail.items.map((e) => e.action)).toContain('job.verifying');
  });
});
