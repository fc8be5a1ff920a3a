/**
 * Jobs whose execution is gone, against the DynamoDB emulator with a manual clock (the lease TTL passes
 * when the test says so): what the reconciler restarts and what it leaves alone, and the customer's way
 * out (cancel, re-drive) of a started job, fenced by the partition's lease.
 */
import { DynamoAuditLog } from '../../core/adapters/dynamodb/audit-log';
import { DynamoEndpointStore } from '../../core/adapters/dynamodb/endpoint-store';
import { DynamoJobStore } from '../../core/adapters/dynamodb/job-store';
import { DynamoLeaseStore } from '../../core/adapters/dynamodb/lease-store';
import { claimJob } from '../../core/control-plane/orchestration/orchestration';
import { type ReconcileDeps, reconcile } from '../../core/control-plane/reconcile/reconcile';
import { cancelJob, redriveJob, type TransferDeps } from '../../core/control-plane/transfers/service';
import { ManualClock } from '../../core/domain/clock';
import { ConflictError, StaleOwnerError } from '../../core/domain/errors';
import { deriveIdempotencyKey, type FlowType, type TransferJob } from '../../core/domain/job';
import { type LeaseToken, tokenOf } from '../../core/domain/lease';
import type { BatchInput, ExecutionOptions, ExecutionStarter, JobKey } from '../../core/domain/ports';
import { createLogger } from '../../core/observability/logger';
import { engineDrivers } from '../support/drivers';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';

const TTL = 60_000;
const GRACE = 30_000;
const WEST = 'us-gov-west-1';
const EAST = 'us-gov-east-1';
const ALICE = { customerId: 'cust', principalArn: 'arn:aws-us-gov:iam::111111111111:user/alice' };

let dynamo: TestDynamo;
let clock: ManualClock;
let jobs: DynamoJobStore;
let leases: DynamoLeaseStore;
let started: Array<{ name: string | undefined; jobIds: string[] }>;
let seq = 0;

/** Records what would be started (Step Functions has its own tests); the jobs' states are asserted instead. */
const executions: ExecutionStarter = {
  start: async (job: JobKey, options?: ExecutionOptions) => {
    started.push({ name: options?.name, jobIds: [job.jobId] });
  },
  startBatch: async (batch: BatchInput, options?: ExecutionOptions) => {
    started.push({ name: options?.name, jobIds: batch.jobIds });
  },
};

// A table of its own per test: the reconciler looks at every job not yet ended.
beforeEach(async () => {
  dynamo = await startTestDynamo();
  clock = new ManualClock();
  const audit = new DynamoAuditLog(dynamo.db, dynamo.tables.audit, clock);
  jobs = new DynamoJobStore(dynamo.db, dynamo.tables.jobs, audit, clock);
  leases = new DynamoLeaseStore(dynamo.db, dynamo.tables.leases, clock);
  started = [];
});
afterEach(() => dynamo.close());

const reconciler = (): ReconcileDeps => ({
  jobs,
  leases,
  executions,
  drivers: engineDrivers(),
  clock,
  logger: createLogger({}, () => undefined),
  graceMs: GRACE,
  stuckAfterMs: 10 * TTL,
});

const transfers = (): TransferDeps => ({
  jobs,
  endpoints: new DynamoEndpointStore(
    dynamo.db,
    dynamo.tables.endpoints,
    new DynamoAuditLog(dynamo.db, dynamo.tables.audit, clock),
    clock,
  ),
  drivers: engineDrivers(),
  executions,
  leases,
  leaseTtlMs: TTL,
  clock,
  region: WEST,
});

/** QUEUED jobs of a partition of their own (one source, one target). */
async function queuedJobs(count: number, flowType: FlowType = 'S3_TO_S3', bytes = 1024): Promise<TransferJob[]> {
  const source = `ep_src${++seq}`;
  const created: TransferJob[] = [];
  for (let i = 0; i < count; i++) {
    const identity = { sourceEndpointId: source, sourcePath: `f${i}`, targetEndpointId: 'ep_dst', targetPath: `f${i}` };
    const { job } = await jobs.create(
      { ...identity, customerId: 'cust', flowType, idempotencyKey: deriveIdempotencyKey(identity), bytesTotal: bytes },
      { actor: 'test', region: WEST },
      { queued: true },
    );
    created.push(job);
  }
  return created;
}

/** An execution of `region` takes the partition's lease (now, by the manual clock). */
async function takeLease(job: TransferJob, region: string, executionId = `${region}-exec-${++seq}`): Promise<LeaseToken> {
  const lease = await leases.acquire(job.partitionId, { executionId, region }, TTL);
  return tokenOf(lease, executionId);
}

const restartedIds = () => started.flatMap((s) => s.jobIds).sort();

describe('the reconciler', () => {
  it('leaves a partition whose lease is live to its holder, and restarts its jobs once the lease has expired', async () => {
    const [job] = (await queuedJobs(1)) as [TransferJob];
    const east = await takeLease(job, EAST);
    await claimJob(jobs, job, east);
    clock.advance(TTL - 1);
    expect((await reconcile(reconciler())).restarted).toBe(0);
    expect(started).toEqual([]);

    clock.advance(2);
    const outcome = await reconcile(reconciler());
    expect(outcome).toMatchObject({ restarted: 1, executions: 1 });
    // A name of its own: the job's id is taken (in the region where it first ran).
    expect(started).toEqual([{ name: expect.stringMatching(new RegExp(`^${job.jobId}-r[0-9a-f]{10}$`)), jobIds: [job.jobId] }]);
  });

  it('does not touch a job written within the grace period (its execution may be starting)', async () => {
    await queuedJobs(1);
    clock.advance(GRACE - 1);
    await reconcile(reconciler());
    expect(started).toEqual([]);
  });

  it('restarts deferred QUEUED jobs once the other region releases the partition, small SFTP files in one batch', async () => {
    const queued = await queuedJobs(3, 'SFTP_TO_S3');
    const east = await takeLease(queued[0] as TransferJob, EAST);
    clock.advance(GRACE);
    await reconcile(reconciler());
    expect(started).toEqual([]);

    await leases.release(east);
    await reconcile(reconciler());
    expect(started).toHaveLength(1);
    expect(started[0]?.name).toMatch(/^batch_[0-9a-z]+-r[0-9a-f]{10}$/);
    expect(restartedIds()).toEqual(queued.map((j) => j.jobId).sort());
  });

  it('never restarts an ended job, and starts one execution per name within a period (two ticks, one name)', async () => {
    const [done, orphan] = (await queuedJobs(2)) as [TransferJob, TransferJob];
    await jobs.transition(done, 'CANCELLED', { actor: 'test', region: WEST });
    clock.advance(GRACE);
    await reconcile(reconciler());
    await reconcile(reconciler());
    expect(restartedIds()).toEqual([orphan.jobId, orphan.jobId]);
    expect(new Set(started.map((s) => s.name)).size).toBe(1);
  });

  it('reads the waiting jobs of a partition 100 to a request, every one of them restarted', async () => {
    const queued = await queuedJobs(250, 'SFTP_TO_S3');
    clock.advance(GRACE);
    const reads = () => {
      const counts = dynamo.requestCounts();
      return { batches: counts['BatchGetItem jobs'] ?? 0, single: counts['GetItem jobs'] ?? 0 };
    };
    const before = reads();
    expect(await reconcile(reconciler())).toMatchObject({ active: 250, restarted: 250 });
    expect(reads()).toEqual({ batches: before.batches + 3, single: before.single });
    expect(restartedIds()).toEqual(queued.map((j) => j.jobId).sort());
  });

  it('reports a job that restarts do not move as stuck', async () => {
    const [job] = (await queuedJobs(1)) as [TransferJob];
    clock.advance(10 * TTL);
    expect((await reconcile(reconciler())).stuck).toEqual([job.jobId]);
  });
});

describe('cancel and re-drive of a started job whose execution is gone', () => {
  async function runningInEast(): Promise<{ job: TransferJob; east: LeaseToken }> {
    const [queued] = (await queuedJobs(1)) as [TransferJob];
    const east = await takeLease(queued, EAST);
    const claim = await claimJob(jobs, queued, east);
    if (claim.action === 'SKIP') throw new Error('not claimed');
    return { job: claim.job, east };
  }

  it('refuses while an execution holds the partition (JOB_IN_PROGRESS), then cancels under a newer epoch once it is gone', async () => {
    const { job, east } = await runningInEast();
    const refused = cancelJob(transfers(), ALICE, job.jobId);
    await expect(refused).rejects.toBeInstanceOf(ConflictError);
    await expect(refused).rejects.toMatchObject({ code: 'JOB_IN_PROGRESS' });
    expect((await jobs.get(job))?.status).toBe('RUNNING');

    clock.advance(TTL + 1);
    const cancelled = await cancelJob(transfers(), ALICE, job.jobId);
    expect(cancelled).toMatchObject({ status: 'CANCELLED' });
    expect(cancelled.fenceEpoch).toBeGreaterThan(east.epoch);
    // Whatever is left of the old holder can write nothing more, and the partition is free again.
    await expect(jobs.recordWork(job, east, { bytesTransferred: 5 })).rejects.toBeInstanceOf(StaleOwnerError);
    expect((await leases.get(job.partitionId))?.expiresAt).toBe(0);
  });

  it('re-drives one: the original ends FAILED (EXECUTION_LOST) under the lease, and a new job is started', async () => {
    const { job } = await runningInEast();
    clock.advance(TTL + 1);
    const { created, job: redrive } = await redriveJob(transfers(), ALICE, job.jobId, undefined);
    expect(created).toBe(true);
    expect(redrive).toMatchObject({ status: 'QUEUED', redriveOf: job.jobId, partitionId: job.partitionId });
    expect(await jobs.get(job)).toMatchObject({ status: 'FAILED', errorCode: 'EXECUTION_LOST' });
    expect(restartedIds()).toEqual([redrive.jobId]);
  });

  it('a cancel without the lease cannot end a started job (the job store refuses it)', async () => {
    const { job } = await runningInEast();
    await expect(jobs.transition(job, 'CANCELLED', { actor: 'test', region: WEST })).rejects.toThrow();
    expect((await jobs.get(job))?.status).toBe('RUNNING');
  });
});
