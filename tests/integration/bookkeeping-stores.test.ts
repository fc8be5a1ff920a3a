import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoAuditLog } from '../../core/adapters/dynamodb/audit-log';
import { DynamoJobStore } from '../../core/adapters/dynamodb/job-store';
import { DynamoLeaseStore } from '../../core/adapters/dynamodb/lease-store';
import { ManualClock } from '../../core/domain/clock';
import { IllegalTransitionError } from '../../core/domain/errors';
import { deriveIdempotencyKey, type TransferJob } from '../../core/domain/job';
import type { LeaseToken } from '../../core/domain/lease';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';

/**
 * The stores' ways of making fewer DynamoDB requests (issue 18), each with what it must still
 * guarantee: the requests are counted at the client.
 */
let dynamo: TestDynamo;
let clock: ManualClock;
let requests: Record<string, number>;
let db: DynamoDBClient;
let audit: DynamoAuditLog;
let jobs: DynamoJobStore;
let seq = 0;
const WEST = { actor: 'sfn:west', region: 'us-gov-west-1' };

beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(() => dynamo.close());
beforeEach(() => {
  clock = new ManualClock();
  requests = {};
  // Counts each request by command before sending it on.
  db = {
    send: (command: { constructor: { name: string } }) => {
      const name = command.constructor.name.replace(/Command$/, '');
      requests[name] = (requests[name] ?? 0) + 1;
      return dynamo.db.send(command as Parameters<DynamoDBClient['send']>[0]);
    },
  } as unknown as DynamoDBClient;
  audit = new DynamoAuditLog(db, dynamo.tables.audit, clock);
  jobs = new DynamoJobStore(db, dynamo.tables.jobs, audit, clock);
});

async function runningJob(): Promise<{ job: TransferJob; fence: LeaseToken }> {
  const base = {
    customerId: 'cust-b',
    flowType: 'S3_TO_S3' as const,
    sourceEndpointId: 'ep_src',
    sourcePath: `in/f-${++seq}`,
    targetEndpointId: 'ep_dst',
    targetPath: `out/f-${seq}`,
  };
  const { job } = await jobs.create({ ...base, idempotencyKey: deriveIdempotencyKey(base) }, WEST, { queued: true });
  const fence = { partitionId: job.partitionId, executionId: 'exec-1', region: 'us-gov-west-1', epoch: 1 };
  return { job: await jobs.transition(job, 'RUNNING', { ...WEST, fence }), fence };
}

async function actionsOf(job: TransferJob): Promise<string[]> {
  return (await audit.list(`job#${job.jobId}`, { limit: 20 })).items.map((event) => event.action);
}

const RESULT = { bytes: 3, sha256: 'ab'.repeat(32), location: 's3://b/out/f', alreadyPresent: false };

describe('a transition through VERIFYING (the verified end in one write)', () => {
  it('enters VERIFYING and SUCCEEDED with the result in one conditional write, each in the history and the audit trail', async () => {
    const { job, fence } = await runningJob();
    requests = {};

    const ended = await jobs.transition(job, 'SUCCEEDED', { ...WEST, fence, through: ['VERIFYING'], work: { result: RESULT } });

    expect(ended).toMatchObject({ status: 'SUCCEEDED', result: RESULT });
    expect(ended.transitions.map((t) => t.status)).toEqual(['RECEIVED', 'QUEUED', 'RUNNING', 'VERIFYING', 'SUCCEEDED']);
    expect(requests).toEqual({ UpdateItem: 1, BatchWriteItem: 1 });
    expect(await actionsOf(job)).toEqual(['job.created', 'job.queued', 'job.running', 'job.verifying', 'job.succeeded']);
  });

  it('is refused, writing nothing, from a state the first step may not be entered from', async () => {
    const { job, fence } = await runningJob();
    await jobs.transition(job, 'VERIFYING', { ...WEST, fence });

    const again = jobs.transition(job, 'SUCCEEDED', { ...WEST, fence, through: ['VERIFYING'], work: { result: RESULT } });

    await expect(again).rejects.toBeInstanceOf(IllegalTransitionError);
    expect((await jobs.get(job))?.status).toBe('VERIFYING');
  });

  it('refuses a path that skips a state', async () => {
    const { job, fence } = await runningJob();
    await expect(jobs.transition(job, 'SUCCEEDED', { ...WEST, fence, through: ['RUNNING'] })).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );
    expect((await jobs.get(job))?.status).toBe('RUNNING');
  });
});

describe('audit events kept for the terminal write (auditWithEnd)', () => {
  it('writes the claim’s event with the end’s, whoever ends the job, and never shows it on the job', async () => {
    const base = {
      customerId: 'cust-b',
      flowType: 'SFTP_TO_S3' as const,
      sourceEndpointId: 'ep_src',
      sourcePath: `in/k-${++seq}`,
      targetEndpointId: 'ep_dst',
      targetPath: `out/k-${seq}`,
    };
    const { job } = await jobs.create({ ...base, idempotencyKey: deriveIdempotencyKey(base) }, WEST, { queued: true });
    const fence = { partitionId: job.partitionId, executionId: 'exec-1', region: 'us-gov-west-1', epoch: 1 };
    requests = {};

    const running = await jobs.transition(job, 'RUNNING', { ...WEST, fence, auditWithEnd: true });

    expect(requests).toEqual({ UpdateItem: 1 });
    expect(running).not.toHaveProperty('auditPending');
    expect(await jobs.get(job)).not.toHaveProperty('auditPending');
    expect(await actionsOf(job)).toEqual(['job.created', 'job.queued']);

    // Another execution (a newer epoch) ends it: the kept event is written with its end.
    await jobs.transition(job, 'FAILED', { ...WEST, fence: { ...fence, epoch: 2 }, errorCode: 'TARGET_EXISTS' });

    expect(await actionsOf(job)).toEqual(['job.created', 'job.queued', 'job.running', 'job.failed']);
    const failed = (await audit.list(`job#${job.jobId}`, { limit: 20 })).items.at(-1);
    expect(failed).toMatchObject({ actor: 'sfn:west', details: { errorCode: 'TARGET_EXISTS' } });
  });
});

describe('audit events by group commit', () => {
  it('writes an event appended alone with a conditional PutItem (what a function allowed PutItem only may do)', async () => {
    await audit.append({
      subject: `job#alone-${++seq}`,
      customerId: 'cust-b',
      actor: 'test',
      action: 'job.x',
      at: new Date(0).toISOString(),
    });

    expect(requests).toEqual({ PutItem: 1 });
    expect((await audit.list(`job#alone-${seq}`, { limit: 5 })).items.map((event) => event.action)).toEqual(['job.x']);
  });

  it('writes events appended together in batch writes of 25, each append settling once its event is in the table', async () => {
    const events = Array.from({ length: 30 }, (_, i) => ({
      subject: `job#group-${seq}` as const,
      customerId: 'cust-b',
      actor: 'test',
      action: `job.step-${i}`,
      at: new Date(0).toISOString(),
    }));

    await Promise.all(
      events.map(async (event) => {
        await audit.append(event);
        // Settled: the event is in the table.
        const listed = await new DynamoAuditLog(dynamo.db, dynamo.tables.audit, clock).list(event.subject, { limit: 50 });
        expect(listed.items.map((item) => item.action)).toContain(event.action);
      }),
    );

    expect(requests.BatchWriteItem).toBe(2);
    const all = await audit.list(`job#group-${seq}`, { limit: 50 });
    // In the order appended (time-ordered ids).
    expect(all.items.map((item) => item.action)).toEqual(events.map((event) => event.action));
  });
});

describe('a partition lease taken and released by one execution', () => {
  const owner = (executionId: string) => ({ executionId, region: 'us-gov-west-1' });
  const tokenOf = (lease: { partitionId: string; epoch: number }, executionId: string): LeaseToken => ({
    partitionId: lease.partitionId,
    epoch: lease.epoch,
    executionId,
    region: 'us-gov-west-1',
  });

  it('costs one write to take (a free partition) and one to release (the only holder)', async () => {
    const leases = new DynamoLeaseStore(db, dynamo.tables.leases, clock);
    const partitionId = `p-alone-${++seq}`;

    const lease = await leases.acquire(partitionId, owner('e1'), 60_000);
    await leases.release(tokenOf(lease, 'e1'));
    const again = await leases.acquire(partitionId, owner('e2'), 60_000);
    await leases.release(tokenOf(again, 'e2'));

    expect(requests).toEqual({ UpdateItem: 4 });
    expect(again.epoch).toBe(lease.epoch + 1);
    expect(await leases.get(partitionId)).toMatchObject({ expiresAt: 0, executions: [] });
  });

  it('keeps the partition held while another execution still holds it', async () => {
    const leases = new DynamoLeaseStore(db, dynamo.tables.leases, clock);
    const partitionId = `p-shared-${++seq}`;
    const first = await leases.acquire(partitionId, owner('e1'), 60_000);
    const second = await leases.acquire(partitionId, owner('e2'), 60_000);
    expect(second.epoch).toBe(first.epoch);

    await leases.release(tokenOf(first, 'e1'));
    expect(await leases.get(partitionId)).toMatchObject({ executions: ['e2'], epoch: first.epoch });
    expect((await leases.get(partitionId))?.expiresAt).toBeGreaterThan(0);

    await leases.release(tokenOf(second, 'e2'));
    expect(await leases.get(partitionId)).toMatchObject({ expiresAt: 0, executions: [] });
  });
});
