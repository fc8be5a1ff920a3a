import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoAuditLog } from '../../core/adapters/dynamodb/audit-log';
import { DynamoEndpointStore } from '../../core/adapters/dynamodb/endpoint-store';
import { DynamoJobStore } from '../../core/adapters/dynamodb/job-store';
import { DynamoLeaseStore } from '../../core/adapters/dynamodb/lease-store';
import { requireBucketOwner } from '../../core/adapters/s3/bucket-owner';
import { DEFAULT_S3_COPY_CONFIG, type S3CopyConfig } from '../../core/adapters/s3/server-side-copy-config';
import {
  claimJob,
  failBatch,
  failTransfer,
  type OrchestrationDeps,
  runServerSideCopy,
  startBatch,
  startTransfer,
  verifyTransfer,
} from '../../core/control-plane/orchestration/orchestration';
import { ManualClock } from '../../core/domain/clock';
import type { Drivers } from '../../core/domain/drivers';
import { LeaseHeldError, VerificationError } from '../../core/domain/errors';
import { deriveIdempotencyKey, type FlowType, type TransferJob, type TransferResult } from '../../core/domain/job';
import type { LeaseToken } from '../../core/domain/lease';
import { resolveLocation } from '../../core/domain/locations';
import type { DestinationState } from '../../core/domain/ports';
import { type LocalS3, startS3 } from '../../local/s3';
import { engineDrivers } from '../support/drivers';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';

const TTL = 60_000;
let dynamo: TestDynamo;
let clock: ManualClock;
let west: OrchestrationDeps;
let east: OrchestrationDeps;
let targetEndpointId: string;
let seq = 0;

beforeAll(async () => {
  dynamo = await startTestDynamo();
  clock = new ManualClock();
  const audit = new DynamoAuditLog(dynamo.db, dynamo.tables.audit, clock);
  const shared = {
    jobs: new DynamoJobStore(dynamo.db, dynamo.tables.jobs, audit, clock),
    endpoints: new DynamoEndpointStore(dynamo.db, dynamo.tables.endpoints, audit, clock),
    leases: new DynamoLeaseStore(dynamo.db, dynamo.tables.leases, clock),
    drivers: engineDrivers(),
    leaseTtlMs: TTL,
  };
  west = { ...shared, region: 'us-gov-west-1' };
  east = { ...shared, region: 'us-gov-east-1' };
  const target = await shared.endpoints.create(
    {
      customerId: 'cust',
      name: 'inbox',
      type: 'S3',
      direction: 'INBOUND',
      status: 'ACTIVE',
      maxConcurrency: 4,
      s3: { bucket: 'b', prefix: 'in/', region: 'us-gov-west-1', bucketOwner: '123456789012' },
    },
    'test',
  );
  targetEndpointId = target.endpointId;
});
afterAll(() => dynamo.close());

/** A QUEUED job in a partition of its own. */
async function queuedJob(
  endpoints: { sourceEndpointId?: string; targetEndpointId?: string } = {},
  flowType: FlowType = 'S3_TO_S3',
): Promise<TransferJob> {
  const n = ++seq;
  const identity = {
    sourceEndpointId: endpoints.sourceEndpointId ?? `ep_src${n}`,
    sourcePath: `f${n}.csv`,
    targetEndpointId: endpoints.targetEndpointId ?? targetEndpointId,
    targetPath: `f${n}.csv`,
  };
  const { job } = await west.jobs.create(
    { ...identity, customerId: 'cust', flowType, idempotencyKey: deriveIdempotencyKey(identity) },
    { actor: 'customer', region: 'us-gov-west-1' },
  );
  return west.jobs.transition(job, 'QUEUED', { actor: 'api', region: 'us-gov-west-1' });
}

async function started(deps: OrchestrationDeps, job: TransferJob, executionId: string): Promise<LeaseToken> {
  const result = await startTransfer(deps, { customerId: job.customerId, jobId: job.jobId, executionId });
  if (result.action === 'SKIP') throw new Error('skipped');
  return result.lease;
}

describe('startTransfer', () => {
  it('moves a queued job to RUNNING under the lease epoch', async () => {
    const job = await queuedJob();
    const result = await startTransfer(west, { ...job, executionId: 'west-1' });
    expect(result).toMatchObject({
      action: 'RUN',
      flowType: 'S3_TO_S3',
      serverSideCopy: true,
      lease: { region: 'us-gov-west-1', epoch: 1, executionId: 'west-1' },
    });
    expect(await west.jobs.get(job)).toMatchObject({
      status: 'RUNNING',
      fenceEpoch: 1,
      attempts: 1,
      executionRegion: 'us-gov-west-1',
    });
  });

  it.each(['SFTP_TO_S3', 'S3_TO_SFTP', 'SFTP_TO_SFTP'] as const)(
    'sends a %s job to the worker: no server-side copy between different drivers or by the SFTP one',
    async (flowType) => {
      const job = await queuedJob({}, flowType);
      expect(await startTransfer(west, { ...job, executionId: `west-${flowType}` })).toMatchObject({
        action: 'RUN',
        flowType,
        serverSideCopy: false,
      });
    },
  );

  it('skips a job that is already terminal, taking no lease', async () => {
    const job = await queuedJob();
    await west.jobs.transition(job, 'CANCELLED', { actor: 'customer', region: 'us-gov-west-1' });
    expect(await startTransfer(east, { ...job, executionId: 'east-1' })).toMatchObject({ action: 'SKIP' });
    expect(await east.leases.get(job.partitionId)).toBeUndefined();
  });

  it('claims without reading the job first when the execution input names its partition and flow', async () => {
    const job = await queuedJob();
    const reads: string[] = [];
    const counting: OrchestrationDeps = {
      ...west,
      jobs: Object.assign(Object.create(west.jobs), {
        get: (key: TransferJob) => {
          reads.push(key.jobId);
          return west.jobs.get(key);
        },
      }),
    };
    const input = { customerId: job.customerId, jobId: job.jobId, partitionId: job.partitionId, flowType: job.flowType };
    const result = await startTransfer(counting, { ...input, executionId: 'west-input-1', input });
    expect(result).toMatchObject({ action: 'RUN', flowType: 'S3_TO_S3', serverSideCopy: true, lease: { epoch: 1 } });
    expect(reads).toEqual([]);
    expect(await west.jobs.get(job)).toMatchObject({ status: 'RUNNING', runningExecutionId: 'west-input-1' });

    // A job that is no longer QUEUED: the refused claim reads it, skips it and gives the lease back.
    if (result.action === 'SKIP') throw new Error('skipped');
    await west.jobs.transition(job, 'CANCELLED', { actor: 'customer', region: 'us-gov-west-1', fence: result.lease });
    const again = await startTransfer(counting, { ...input, executionId: 'west-input-2', input });
    expect(again).toMatchObject({ action: 'SKIP', reason: 'job is already CANCELLED' });
    expect((await west.leases.get(job.partitionId))?.executions ?? []).not.toContain('west-input-2');
  });

  it('refuses to start while the other region holds the partition, leaving the job queued', async () => {
    const job = await queuedJob();
    const other = await queuedJob();
    await east.leases.acquire(job.partitionId, { executionId: 'east-9', region: 'us-gov-east-1' }, TTL);
    await expect(startTransfer(west, { ...job, executionId: 'west-2' })).rejects.toBeInstanceOf(LeaseHeldError);
    expect((await west.jobs.get(job))?.status).toBe('QUEUED');
    expect((await startTransfer(west, { ...other, executionId: 'west-3' })).action).toBe('RUN');
  });

  it('resumes a job left RUNNING by a region whose lease expired, fencing the old holder out', async () => {
    const job = await queuedJob();
    const stale = await started(west, job, 'west-4');
    clock.advance(TTL + 1);
    const takeover = await started(east, job, 'east-4');
    expect(takeover.epoch).toBe(stale.epoch + 1);
    expect(await west.jobs.get(job)).toMatchObject({
      status: 'RUNNING',
      attempts: 2,
      executionRegion: 'us-gov-east-1',
      fenceEpoch: takeover.epoch,
    });
    await expect(west.jobs.recordWork(job, stale, { bytesTransferred: 1 })).rejects.toMatchObject({ code: 'STALE_OWNER' });
  });
});

describe('verifyTransfer', () => {
  /** The engine's drivers, but the destination is found to hold `found`. */
  const finding = (found: DestinationState | undefined): { drivers: Drivers } => ({
    drivers: {
      driverFor: (endpoint) => Object.assign(Object.create(west.drivers.driverFor(endpoint)), { inspect: async () => found }),
      driverOfKind: (kind) => west.drivers.driverOfKind(kind),
    },
  });

  it('succeeds the job when the destination holds what was delivered', async () => {
    const job = await queuedJob();
    const lease = await started(west, job, 'west-5');
    await west.jobs.recordWork(job, lease, {
      result: { bytes: 10, etag: '"e"', location: 's3://b/in/x', alreadyPresent: false },
    });
    const done = await verifyTransfer({ ...west, ...finding({ bytes: 10, etag: '"e"' }) }, { ...job, lease });
    expect(done.transitions.map((t) => t.status)).toEqual(['RECEIVED', 'QUEUED', 'RUNNING', 'VERIFYING', 'SUCCEEDED']);
  });

  it.each([
    ['nothing at the destination', undefined],
    ['a different size', { bytes: 9 }],
    ['a different ETag', { bytes: 10, etag: '"other"' }],
  ])('refuses %s', async (_case, found) => {
    const job = await queuedJob();
    const lease = await started(west, job, `west-v-${seq}`);
    await west.jobs.recordWork(job, lease, {
      result: { bytes: 10, etag: '"e"', location: 's3://b/in/x', alreadyPresent: false },
    });
    await expect(verifyTransfer({ ...west, ...finding(found) }, { ...job, lease })).rejects.toBeInstanceOf(VerificationError);
    expect((await west.jobs.get(job))?.status).toBe('VERIFYING');
  });
});

describe('verifyTransfer of an S3→S3 copy against the checksum S3 reports (local S3)', () => {
  const MiB = 1024 * 1024;
  const SOURCE = { bucket: 'verify-source', owner: '111111111111' };
  const TARGET = { bucket: 'verify-target', owner: '222222222222' };
  /** Multipart from 1 MiB, in 1 MiB parts (below S3's 5 MiB floor, which only tests may lower). */
  const MULTIPART: S3CopyConfig = {
    ...DEFAULT_S3_COPY_CONFIG,
    multipartThresholdBytes: MiB,
    partSizeBytes: MiB,
    minPartSizeBytes: MiB,
  };
  let directory: string;
  let localS3: LocalS3;
  let s3: S3Client;
  let drivers: Drivers;
  let endpoints: { sourceEndpointId: string; targetEndpointId: string };

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'eft-verify-'));
    localS3 = await startS3({
      directory: join(directory, 's3'),
      buckets: [SOURCE, TARGET].map((b) => ({ name: b.bucket, ...b })),
    });
    // The engine's client: every request names the bucket's owner.
    s3 = requireBucketOwner(
      new S3Client({
        endpoint: localS3.endpoint,
        region: 'us-gov-west-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED',
      }),
    );
    drivers = engineDrivers({ s3 });
    const s3Endpoint = (name: string, direction: 'INBOUND' | 'OUTBOUND', at: { bucket: string; owner: string }) =>
      west.endpoints.create(
        {
          customerId: 'cust',
          name,
          type: 'S3',
          direction,
          status: 'ACTIVE',
          maxConcurrency: 4,
          s3: { bucket: at.bucket, prefix: '', region: 'us-gov-west-1', bucketOwner: at.owner },
        },
        'test',
      );
    const [source, target] = await Promise.all([
      s3Endpoint('outbox', 'OUTBOUND', SOURCE),
      s3Endpoint('inbox', 'INBOUND', TARGET),
    ]);
    endpoints = { sourceEndpointId: source.endpointId, targetEndpointId: target.endpointId };
  });
  afterAll(async () => {
    s3?.destroy();
    await localS3?.close();
    await rm(directory, { recursive: true, force: true });
  });

  /**
   * A job whose source holds `size` random bytes, copied by the S3→S3 task, which verifies the copy
   * and ends the job SUCCEEDED with its result in one write.
   */
  async function copied(size: number, copyConfig: S3CopyConfig) {
    const job = await queuedJob(endpoints);
    const content = randomBytes(size);
    await s3.send(
      new PutObjectCommand({ Bucket: SOURCE.bucket, ExpectedBucketOwner: SOURCE.owner, Key: job.sourcePath, Body: content }),
    );
    const lease = await started(west, job, `west-c-${seq}`);
    const result = await runServerSideCopy({ ...west, drivers: engineDrivers({ s3, copyConfig }) }, { ...job, lease });
    return { job, lease, content, result };
  }

  /** The same copy by the S3 driver alone (no verification): the job RUNNING with its result. */
  async function copiedUnverified(size: number, copyConfig: S3CopyConfig) {
    const job = await queuedJob(endpoints);
    await s3.send(
      new PutObjectCommand({
        Bucket: SOURCE.bucket,
        ExpectedBucketOwner: SOURCE.owner,
        Key: job.sourcePath,
        Body: randomBytes(size),
      }),
    );
    const lease = await started(west, job, `west-c-${seq}`);
    const copying = engineDrivers({ s3, copyConfig });
    const [source, target] = await Promise.all([
      west.endpoints.get('cust', endpoints.sourceEndpointId),
      west.endpoints.get('cust', endpoints.targetEndpointId),
    ]);
    if (!source || !target) throw new Error('the test endpoints are missing');
    const running = (await west.jobs.get(job)) as TransferJob;
    const copy = copying.driverFor(source).copyServerSide?.bind(copying.driverFor(source));
    if (!copy) throw new Error('the S3 driver copies server-side');
    const result = await copy(
      resolveLocation(copying, source, job.sourcePath, 'sourcePath'),
      resolveLocation(copying, target, job.targetPath, 'targetPath'),
      { job: running, lease, jobs: west.jobs, renewLease: async () => undefined },
    );
    return { job, lease, result };
  }

  const verify = (job: TransferJob, lease: LeaseToken) => verifyTransfer({ ...west, drivers }, { ...job, lease });
  const sha256 = (data: Buffer) => createHash('sha256').update(data);
  /** S3's COMPOSITE SHA-256 of `content` in parts of `partSize`: the SHA-256 of the part digests, then -N. */
  function composite(content: Buffer, partSize: number): string {
    const digests: Buffer[] = [];
    for (let at = 0; at < content.length; at += partSize) digests.push(sha256(content.subarray(at, at + partSize)).digest());
    return `${sha256(Buffer.concat(digests)).digest('base64')}-${digests.length}`;
  }

  it('succeeds a single-part copy whose SHA-256 S3 reports as recorded', async () => {
    const { job, lease, content, result } = await copied(64 * 1024, DEFAULT_S3_COPY_CONFIG);
    expect(result.sha256).toBe(sha256(content).digest('hex'));
    // Verified and ended by the copy task, through VERIFYING, in one write; VerifyTransfer has nothing left to do.
    const ended = await west.jobs.get(job);
    expect(ended).toMatchObject({ status: 'SUCCEEDED', result: { sha256: result.sha256 } });
    expect(ended?.transitions.map((t) => t.status)).toEqual(['RECEIVED', 'QUEUED', 'RUNNING', 'VERIFYING', 'SUCCEEDED']);

    expect((await verify(job, lease)).status).toBe('SUCCEEDED');
  });

  it('succeeds a multipart copy whose composite checksum S3 reports as recorded', async () => {
    const { job, lease, content, result } = await copied(2.5 * MiB, MULTIPART);
    expect(result.checksum).toEqual({ algorithm: 'SHA256', type: 'COMPOSITE', value: composite(content, MiB), partSize: MiB });

    expect((await verify(job, lease)).status).toBe('SUCCEEDED');
  });

  /** A job whose source holds `size` bytes, started as the engine starts a server-side copy: its endpoints in the input. */
  async function startedCopy(size: number) {
    const job = await queuedJob(endpoints);
    const content = randomBytes(size);
    await s3.send(
      new PutObjectCommand({ Bucket: SOURCE.bucket, ExpectedBucketOwner: SOURCE.owner, Key: job.sourcePath, Body: content }),
    );
    const [source, target] = await west.endpoints.getPair('cust', endpoints.sourceEndpointId, endpoints.targetEndpointId);
    if (!source || !target) throw new Error('the test endpoints are missing');
    const input = { ...job, endpoints: { source, target } };
    const start = await startTransfer(west, { ...job, executionId: `west-h-${seq}`, input });
    if (start.action !== 'RUN') throw new Error(`the copy did not start: ${JSON.stringify(start)}`);
    return { job, content, start, source, target };
  }

  /** `deps` whose job and endpoint reads are recorded. */
  function recordingReads(deps: OrchestrationDeps) {
    const reads: string[] = [];
    const recorded: OrchestrationDeps = {
      ...deps,
      jobs: Object.assign(Object.create(deps.jobs), {
        get: (key: TransferJob) => {
          reads.push(`job ${key.jobId}`);
          return deps.jobs.get(key);
        },
      }),
      endpoints: Object.assign(Object.create(deps.endpoints), {
        get: (customerId: string, endpointId: string) => {
          reads.push(`endpoint ${endpointId}`);
          return deps.endpoints.get(customerId, endpointId);
        },
        getPair: (customerId: string, first: string, second: string) => {
          reads.push(`endpoints ${first} ${second}`);
          return deps.endpoints.getPair(customerId, first, second);
        },
      }),
    };
    return { recorded, reads };
  }

  it('copies with the job its claim wrote and the endpoints the request checked, reading neither', async () => {
    const { job, content, start, source, target } = await startedCopy(64 * 1024);
    expect(start.claimed).toMatchObject({ jobId: job.jobId, status: 'RUNNING', fenceEpoch: start.lease.epoch });
    expect(start.endpoints).toEqual({ source, target });

    const { recorded, reads } = recordingReads({ ...west, drivers });
    const result = await runServerSideCopy(recorded, start);

    expect(reads).toEqual([]);
    expect(result.sha256).toBe(sha256(content).digest('hex'));
    expect(await west.jobs.get(job)).toMatchObject({ status: 'SUCCEEDED', result: { sha256: result.sha256 } });
  });

  it("reads the job's own endpoints when those handed on are another job's", async () => {
    const { job, start, source } = await startedCopy(1024);
    // Endpoints that are not this job's (here: the source twice) are not used, whoever put them there.
    const { recorded, reads } = recordingReads({ ...west, drivers });
    await runServerSideCopy(recorded, { ...start, endpoints: { source, target: source } });

    expect(reads).toEqual([`endpoints ${endpoints.sourceEndpointId} ${endpoints.targetEndpointId}`]);
    expect(await west.jobs.get(job)).toMatchObject({
      status: 'SUCCEEDED',
      result: { location: `s3://${TARGET.bucket}/${job.targetPath}` },
    });
  });

  it("continues a retried multipart copy from the checkpoint its first attempt wrote, though given the claim's job", async () => {
    const { job, content, start } = await startedCopy(3.5 * MiB);
    // The first attempt: S3 throttles one part after others were copied, and the task fails to be retried.
    const sent: string[] = [];
    let throttled = false;
    const flaky = Object.assign(Object.create(s3), {
      send: (command: { constructor: { name: string }; input: { PartNumber?: number } }, ...rest: unknown[]) => {
        sent.push(command.constructor.name);
        if (!throttled && command.constructor.name === 'UploadPartCopyCommand' && command.input.PartNumber === 3) {
          throttled = true;
          return Promise.reject(
            Object.assign(new Error('Please reduce your request rate.'), {
              name: 'SlowDown',
              $metadata: { httpStatusCode: 503 },
            }),
          );
        }
        return (s3.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
      },
    }) as S3Client;
    const copying = { ...west, drivers: engineDrivers({ s3: flaky, copyConfig: { ...MULTIPART, partConcurrency: 1 } }) };
    await expect(runServerSideCopy(copying, start)).rejects.toMatchObject({ name: 'TransientError' });
    expect((await west.jobs.get(job))?.checkpoint?.s3Copy).toMatchObject({ parts: [{ PartNumber: 1 }, { PartNumber: 2 }] });

    // The retry gets the same input (the job as its claim wrote it, with no checkpoint) and continues the upload.
    const result = await runServerSideCopy(copying, start);

    expect(sent.filter((name) => name === 'CreateMultipartUploadCommand')).toHaveLength(1);
    expect(sent.filter((name) => name === 'AbortMultipartUploadCommand')).toHaveLength(0);
    expect(sent.filter((name) => name === 'UploadPartCopyCommand')).toHaveLength(5); // parts 1–4, part 3 twice
    expect(result.checksum?.value).toBe(composite(content, MiB));
    expect((await west.jobs.get(job))?.status).toBe('SUCCEEDED');
  });

  it.each([
    ['a single-part copy’s SHA-256', 64 * 1024, DEFAULT_S3_COPY_CONFIG, (_r: TransferResult) => ({ sha256: 'ab'.repeat(32) })],
    [
      'a multipart copy’s composite checksum',
      2.5 * MiB,
      MULTIPART,
      (r: TransferResult) => ({ checksum: { ...(r.checksum as NonNullable<TransferResult['checksum']>), value: 'AAAA-3' } }),
    ],
  ])('refuses %s that differs from the one S3 reports, although size and ETag match', async (_case, size, config, tamper) => {
    const { job, lease, result } = await copiedUnverified(size, config);
    // The recorded result no longer matches the object: only the checksum tells.
    await west.jobs.recordWork(job, lease, { result: { ...result, ...tamper(result) } });

    const verifying = verify(job, lease);

    await expect(verifying).rejects.toBeInstanceOf(VerificationError);
    await expect(verifying).rejects.toThrow(/checksum|SHA-256/);
    expect((await west.jobs.get(job))?.status).toBe('VERIFYING');
  });
});

describe('failTransfer', () => {
  it('fails the job with the reason the data plane recorded and releases the lease', async () => {
    const job = await queuedJob();
    const lease = await started(west, job, 'west-6');
    await west.jobs.recordWork(job, lease, { lastError: { code: 'AUTH_FAILED', message: 'authentication failed for user x' } });
    await failTransfer(west, { ...job, lease, error: { Error: 'States.TaskFailed', Cause: '{}' } });
    expect(await west.jobs.get(job)).toMatchObject({
      status: 'FAILED',
      errorCode: 'AUTH_FAILED',
      errorMessage: 'authentication failed for user x',
    });
    expect((await west.leases.get(job.partitionId))?.expiresAt).toBe(0);
  });

  it('turns a state error into a reason code when nothing was recorded', async () => {
    const job = await queuedJob();
    const lease = await started(west, job, 'west-7');
    await failTransfer(west, {
      ...job,
      lease,
      error: { Error: 'TargetExistsError', Cause: JSON.stringify({ errorMessage: 'a different object is there' }) },
    });
    expect(await west.jobs.get(job)).toMatchObject({ errorCode: 'TARGET_EXISTS', errorMessage: 'a different object is there' });
  });

  it('leaves alone a job the other region is running when this execution never got the lease', async () => {
    const job = await queuedJob();
    await started(east, job, 'east-8');
    await failTransfer(west, { ...job, error: { Error: 'LeaseHeldError', Cause: 'held by us-gov-east-1' } });
    expect(await west.jobs.get(job)).toMatchObject({ status: 'RUNNING', executionRegion: 'us-gov-east-1' });
  });

  it('records the registered code of an engine error, whatever its class is called', async () => {
    const job = await queuedJob();
    const lease = await started(west, job, 'west-v');
    await failTransfer(west, { ...job, lease, error: { Error: 'VerificationError', Cause: '{}' } });
    expect(await west.jobs.get(job)).toMatchObject({ status: 'FAILED', errorCode: 'VERIFICATION_FAILED' });
  });

  it('fails a job that never started when the lease could not be had', async () => {
    const job = await queuedJob();
    await failTransfer(west, { ...job, error: { Error: 'LeaseHeldError', Cause: 'held by us-gov-east-1' } });
    expect(await west.jobs.get(job)).toMatchObject({ status: 'FAILED', errorCode: 'LEASE_HELD' });
  });

  it('does not fail a job that a newer lease holder has taken over', async () => {
    const job = await queuedJob();
    const stale = await started(west, job, 'west-9');
    clock.advance(TTL + 1);
    await started(east, job, 'east-9');
    await failTransfer(west, { ...job, lease: stale, error: { Error: 'TransientError' } });
    expect(await west.jobs.get(job)).toMatchObject({ status: 'RUNNING', executionRegion: 'us-gov-east-1' });
  });
});

describe('an interrupted attempt (the worker stopped or lost the lease) is resumed, not failed', () => {
  /** What Step Functions puts in Cause when a .sync ECS task's container exits non-zero. */
  const taskExited = (ExitCode: number | null, Signal?: string) => ({
    Error: 'States.TaskFailed',
    Cause: JSON.stringify({
      StopCode: 'EssentialContainerExited',
      StoppedReason: 'Essential container in task exited',
      Containers: [{ ExitCode, ...(Signal ? { Signal } : {}) }],
    }),
  });

  it.each([
    ['worker was stopped (SIGTERM, exit 143)', taskExited(143)],
    ['worker was killed by SIGTERM before its handler ran', taskExited(null, 'SIGTERM')],
    ['worker lost the lease (exit 3)', taskExited(3)],
    ['server-side copy lost the lease', { Error: 'LeaseLostError', Cause: '{}' }],
  ])('a job whose %s stays RUNNING, its lease is released, and a new execution resumes it', async (_case, error) => {
    const job = await queuedJob();
    const lease = await started(west, job, `west-int-${seq}`);
    await west.jobs.recordWork(job, lease, { lastError: { code: 'STOPPED', message: 'the worker was stopped' } });

    expect(await failTransfer(west, { ...job, lease, error })).toEqual({ failed: false });

    expect(await west.jobs.get(job)).toMatchObject({ status: 'RUNNING' });
    expect((await west.leases.get(job.partitionId))?.expiresAt).toBe(0);
    // The reconciler's execution takes the free lease under a new epoch and resumes the job.
    const resumed = await startTransfer(west, { ...job, executionId: `west-resume-${seq}` });
    expect(resumed.action).toBe('RUN');
    const now = await west.jobs.get(job);
    expect(now).toMatchObject({ status: 'RUNNING', runningExecutionId: `west-resume-${seq}`, attempts: 2 });
    expect(now?.lastError).toBeUndefined();
  });

  it("an interrupted batch's worker leaves every job, started or not, for the next execution", async () => {
    const running = await queuedJob();
    const queued = await queuedJob();
    const lease = await started(west, running, `west-batch-int-${seq}`);
    const result = await failBatch(west, {
      customerId: 'cust',
      batchId: 'b',
      jobIds: [running.jobId, queued.jobId],
      lease,
      error: taskExited(143),
    });
    expect(result).toEqual({ failed: 0 });
    expect((await west.jobs.get(running))?.status).toBe('RUNNING');
    expect((await west.jobs.get(queued))?.status).toBe('QUEUED');
  });

  it('a worker that crashed (any other exit) fails its job, with the exit said in words', async () => {
    const job = await queuedJob();
    const lease = await started(west, job, `west-crash-${seq}`);
    await failTransfer(west, { ...job, lease, error: taskExited(137) });
    expect(await west.jobs.get(job)).toMatchObject({
      status: 'FAILED',
      errorCode: 'WORKER_FAILED',
      errorMessage: 'the worker task exited with status 137 without recording a result: Essential container in task exited',
    });
  });
});

describe('executions of one region sharing a lease (a job in a batch and in another execution)', () => {
  it('lets exactly one of many racing executions run a job; the others skip it', async () => {
    const job = await queuedJob();
    const executions = Array.from({ length: 8 }, (_, i) => `exec-race-${seq}-${i}`);
    const leases = await Promise.all(
      executions.map(async (executionId) => {
        const lease = await startBatch(west, { customerId: 'cust', batchId: 'b', jobIds: [job.jobId], executionId });
        if (!lease) throw new Error('no lease');
        return lease;
      }),
    );
    // Same region, same live lease: every execution shares one epoch, so the epoch alone cannot tell them apart.
    expect(new Set(leases.map((l) => l.epoch)).size).toBe(1);
    // Half of them as a batch's worker claims (the conditional write first), half reading the job first.
    const claims = await Promise.all(leases.map((lease, i) => claimJob(west.jobs, job, lease, { likelyQueued: i % 2 === 0 })));
    expect(claims.filter((c) => c.action === 'RUN')).toHaveLength(1);
    expect(claims.filter((c) => c.action === 'SKIP')).toHaveLength(7);
    const winner = leases[claims.findIndex((c) => c.action === 'RUN')] as LeaseToken;
    expect(await west.jobs.get(job)).toMatchObject({ status: 'RUNNING', runningExecutionId: winner.executionId });
    // The winner's own retry (e.g. a re-invoked task) still runs it; a single-job execution of the same job skips it.
    expect((await claimJob(west.jobs, job, winner)).action).toBe('RUN');
    const single = await startTransfer(west, { customerId: 'cust', jobId: job.jobId, executionId: `exec-single-${seq}` });
    expect(single.action).toBe('SKIP');
    expect((await west.jobs.get(job))?.attempts).toBe(1);
  });

  it('a failing batch fails only the jobs it ran or never started, not one another execution runs', async () => {
    const mine = await queuedJob();
    const theirs = await queuedJob();
    const untouched = await queuedJob();
    // Each job is in its own partition here; give every execution the lease of the job it runs.
    const theirLease = await started(west, theirs, `exec-theirs-${seq}`);
    const myLease = await started(west, mine, `exec-mine-${seq}`);
    const theirsAsSeenByMe = { ...theirLease, executionId: myLease.executionId };
    await failBatch(west, {
      customerId: 'cust',
      batchId: 'b',
      jobIds: [mine.jobId, untouched.jobId],
      lease: myLease,
      error: { Error: 'States.TaskFailed' },
    });
    await failBatch(west, {
      customerId: 'cust',
      batchId: 'b',
      jobIds: [theirs.jobId],
      lease: theirsAsSeenByMe,
      error: { Error: 'States.TaskFailed' },
    });
    expect(await west.jobs.get(mine)).toMatchObject({ status: 'FAILED', errorCode: 'WORKER_FAILED' });
    expect(await west.jobs.get(untouched)).toMatchObject({ status: 'FAILED', errorCode: 'WORKER_FAILED' });
    expect(await west.jobs.get(theirs)).toMatchObject({ status: 'RUNNING', runningExecutionId: theirLease.executionId });
  });
});
