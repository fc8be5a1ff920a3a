/**
 * A staged SFTP→SFTP job moves region: its first hop ran in west (the staged
 * copy is in west's staging bucket, the job's checkpoint says so), west is
 * gone, and a worker of east finishes the job from the replica that the
 * staging replication (local/staging-replication.ts, standing in for S3 CRR)
 * put in east's bucket, without the source and without west's bucket.
 * Against dynalite, s3rver and embedded SFTP servers; runTransfer in-process.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createS3Client } from '../../core/adapters/s3/client';
import { s3Staging } from '../../core/adapters/s3/transfer/staging';
import { LocalFileSecretStore } from '../../core/adapters/secrets/local-file-store';
import { claimJob } from '../../core/control-plane/orchestration/orchestration';
import { type WorkerConfig, workerConfigFromEnv } from '../../core/data-plane/config';
import { runTransfer, type WorkerDeps } from '../../core/data-plane/run-transfer';
import { systemClock } from '../../core/domain/clock';
import type { Endpoint } from '../../core/domain/endpoint';
import type { TransferJob } from '../../core/domain/job';
import { type LeaseToken, tokenOf } from '../../core/domain/lease';
import type { JobKey } from '../../core/domain/ports';
import type { StagedFile } from '../../core/domain/transfer/io';
import { createLogger } from '../../core/observability/logger';
import { buildStores, type Stores } from '../../core/runtime/wiring';
import { LOCAL_ACCOUNT_ID } from '../../local/cfn-values';
import { customerS3Client, type LocalS3, startS3 } from '../../local/s3';
import { type EmbeddedSftpServer, startSftpServer } from '../../local/sftp-server';
import { type Replicated, replicateStagingBuckets, type StagingReplication } from '../../local/staging-replication';
import { engineDrivers } from '../support/drivers';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';

jest.setTimeout(60_000);

const WEST = 'us-gov-west-1';
const EAST = 'us-gov-east-1';
const STAGING = { [WEST]: 'eft-failover-staging-west', [EAST]: 'eft-failover-staging-east' } as const;
type Region = keyof typeof STAGING;
const CUSTOMER = 'cust-failover';
const PASSWORD = 'partner-secret-password';
const MiB = 1024 * 1024;

let tmp: string;
let dynamo: TestDynamo;
let s3srv: LocalS3;
let replication: StagingReplication;
let source: EmbeddedSftpServer;
let target: EmbeddedSftpServer;
let readOnly: EmbeddedSftpServer;
let env: NodeJS.ProcessEnv;
let stores: Stores;
let engineS3: S3Client;
/** The test's own view of S3 (fixtures and checks), not the engine's. */
let s3: S3Client;
let secrets: LocalFileSecretStore;
let passwordRef: string;
const replicated: Replicated[] = [];
const replicaListeners = new Set<() => void>();
const logs: string[] = [];
const logListeners = new Set<() => void>();
const log = (line: string) => {
  logs.push(line);
  for (const listener of logListeners) listener();
};

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'eft-failover-'));
  const roots = ['source', 'target', 'readonly'].map((n) => path.join(tmp, n));
  await Promise.all(roots.map((r) => fs.mkdir(path.join(r, 'data'), { recursive: true })));
  const users = [{ username: 'partner', password: PASSWORD }];
  [dynamo, s3srv, source, target, readOnly] = await Promise.all([
    startTestDynamo(),
    startS3({ directory: path.join(tmp, 's3'), buckets: Object.values(STAGING) }),
    startSftpServer({ root: roots[0] as string, users }),
    startSftpServer({ root: roots[1] as string, users }),
    startSftpServer({ root: roots[2] as string, users, readOnly: true }),
  ]);
  replication = replicateStagingBuckets(s3srv, {
    endpoint: s3srv.endpoint,
    buckets: Object.values(STAGING),
    lagMs: 200,
    log,
  });
  replication.onReplicated((replica) => {
    replicated.push(replica);
    for (const listener of replicaListeners) listener();
  });
  env = {
    ENDPOINTS_TABLE: dynamo.tables.endpoints,
    JOBS_TABLE: dynamo.tables.jobs,
    LEASES_TABLE: dynamo.tables.leases,
    AUDIT_TABLE: dynamo.tables.audit,
    PRINCIPALS_TABLE: dynamo.tables.principals,
    ENGINE_ACCOUNT_ID: LOCAL_ACCOUNT_ID,
    AWS_REGION: WEST,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: s3srv.endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    EFT_S3_FORCE_PATH_STYLE: 'true',
    // Two parts of 4 MiB: the staged copy is a multipart object, whose replica has another ETag.
    EFT_PART_SIZE_BYTES: String(4 * MiB),
    EFT_LEASE_TTL_MS: '3000',
    EFT_HEARTBEAT_MS: '200',
    EFT_PROGRESS_INTERVAL_MS: '100',
    EFT_RETRY_BASE_MS: '20',
    EFT_RETRY_MAX_MS: '200',
  };
  stores = buildStores(env);
  engineS3 = createS3Client(env);
  s3 = customerS3Client(s3srv.endpoint);
  secrets = new LocalFileSecretStore(path.join(tmp, 'secrets'));
  passwordRef = await secrets.create('partner', { password: PASSWORD });
}, 60_000);

afterAll(async () => {
  await replication?.close();
  s3?.destroy();
  engineS3?.destroy();
  await Promise.all([source?.close(), target?.close(), readOnly?.close(), s3srv?.close(), dynamo?.close()]);
  await fs.rm(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  logs.length = 0;
});

// ---------------------------------------------------------------------------
// Harness

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const unique = (stem: string) => `${stem}-${randomUUID().slice(0, 8)}`;

function sftpEndpoint(server: EmbeddedSftpServer): Promise<Endpoint> {
  return stores.endpoints.create(
    {
      customerId: CUSTOMER,
      name: unique('sftp'),
      type: 'SFTP',
      direction: 'BOTH',
      status: 'ACTIVE',
      maxConcurrency: 4,
      secretRef: passwordRef,
      sftp: {
        host: server.host,
        port: server.port,
        username: 'partner',
        basePath: '/data',
        authType: 'PASSWORD',
        hostKeyFingerprint: server.hostKeyFingerprint,
      },
      capabilities: {
        write: true,
        renameToNew: true,
        renameOverExisting: false,
        posixRename: true,
        checkFile: false,
        multiHandleWrite: true,
      },
    },
    'test',
  );
}

/** A region's worker: its own staging bucket, its own region. */
function workerOf(region: Region, config: Partial<WorkerConfig> = {}): WorkerDeps {
  const tunables = { ...workerConfigFromEnv(env), ...config };
  return {
    jobs: stores.jobs,
    endpoints: stores.endpoints,
    leases: stores.leases,
    drivers: engineDrivers({
      s3: engineS3,
      secrets,
      networkPolicy: { allowedCidrs: ['127.0.0.0/8'] },
      connectTimeoutMs: tunables.connectTimeoutMs,
    }),
    staging: s3Staging({ s3: engineS3, bucket: STAGING[region], owner: LOCAL_ACCOUNT_ID }),
    clock: systemClock,
    logger: createLogger({ region }, log),
    config: tunables,
    region,
  };
}

/** Takes the job's partition lease for `region` (a new epoch) and claims the job under it, as StartTransfer does. */
async function claimIn(region: Region, key: JobKey, partitionId: string): Promise<LeaseToken> {
  const executionId = unique(`exec-${region}`);
  const lease = tokenOf(await stores.leases.acquire(partitionId, { executionId, region }, 60_000), executionId);
  const claim = await claimJob(stores.jobs, key, lease);
  expect(claim.action).toBe('RUN');
  return lease;
}

async function getJob(key: JobKey): Promise<TransferJob> {
  const job = await stores.jobs.get(key);
  if (!job) throw new Error('job vanished');
  return job;
}

async function head(bucket: string, key: string): Promise<HeadObjectCommandOutput | undefined> {
  return s3
    .send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    .catch((err: { $metadata?: { httpStatusCode?: number } }) => {
      if (err.$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    });
}

/** Resolves once the replication has copied `key` to `to`. */
function replicaWritten(to: string, key: string): Promise<void> {
  const seen = () => replicated.some((r) => r.to === to && r.key === key);
  return new Promise((resolve) => {
    if (seen()) return resolve();
    const listener = () => {
      if (!seen()) return;
      replicaListeners.delete(listener);
      resolve();
    };
    replicaListeners.add(listener);
  });
}

/** Resolves once a log line contains `text`. */
function logged(text: string): Promise<void> {
  const seen = () => logs.some((line) => line.includes(text));
  return new Promise((resolve) => {
    if (seen()) return resolve();
    const listener = () => {
      if (!seen()) return;
      logListeners.delete(listener);
      resolve();
    };
    logListeners.add(listener);
  });
}

/**
 * West runs the job's first hop and fails its second (the target refuses to
 * write), leaving the job RUNNING with its staged copy in west's bucket, and
 * the replication copies it to east's. Then the source is deleted and the
 * job's target endpoint repaired: only a staged copy can deliver it now.
 */
async function stagedInWest(
  options: { keepSource?: boolean } = {},
): Promise<{ key: JobKey; content: Buffer; name: string; staged: StagedFile; partitionId: string; job: TransferJob }> {
  const name = unique('moved');
  const content = randomBytes(6 * MiB + 11);
  await fs.writeFile(path.join(tmp, 'source', 'data', `${name}.bin`), content);
  const to = await sftpEndpoint(readOnly);
  const { job } = await stores.jobs.create(
    {
      customerId: CUSTOMER,
      flowType: 'SFTP_TO_SFTP',
      sourceEndpointId: (await sftpEndpoint(source)).endpointId,
      sourcePath: `${name}.bin`,
      targetEndpointId: to.endpointId,
      targetPath: `${name}.bin`,
      idempotencyKey: unique('key'),
    },
    { actor: 'test', region: WEST },
  );
  const key = { customerId: CUSTOMER, jobId: job.jobId };
  const westLease = await claimIn(WEST, key, job.partitionId);
  const stagedKey = `staging/${CUSTOMER}/${job.jobId}/${name}.bin`;
  const replica = replicaWritten(STAGING[EAST], stagedKey);

  await expect(runTransfer(workerOf(WEST), key, westLease)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });

  const staged = (await getJob(key)).checkpoint?.staged as StagedFile;
  expect(staged).toMatchObject({ bucket: STAGING[WEST], key: stagedKey, bytes: content.length, sha256: sha(content) });
  await replica;
  // West is gone with its lease: east's worker takes over under a new epoch.
  await stores.leases.release(westLease);
  if (!options.keepSource) await fs.rm(path.join(tmp, 'source', 'data', `${name}.bin`));
  await stores.endpoints.update(
    CUSTOMER,
    to.endpointId,
    to.version,
    {
      sftp: {
        host: target.host,
        port: target.port,
        username: 'partner',
        basePath: '/data',
        authType: 'PASSWORD',
        hostKeyFingerprint: target.hostKeyFingerprint,
      },
    },
    'test',
    'endpoint.updated',
  );
  return { key, content, name, staged, partitionId: job.partitionId, job: await getJob(key) };
}

// ---------------------------------------------------------------------------

describe('a staged SFTP→SFTP job taken over by the other region', () => {
  test('east delivers it from the replica in its own bucket: west’s bucket and the source are gone', async () => {
    const { key, content, name, staged, partitionId } = await stagedInWest();
    expect((await head(STAGING[EAST], staged.key))?.ContentLength).toBe(content.length);
    // West's staging bucket is out of reach with its region: its copy is no use to east.
    await s3.send(new DeleteObjectCommand({ Bucket: STAGING[WEST], Key: staged.key }));

    const eastLease = await claimIn(EAST, key, partitionId);
    const { result } = await runTransfer(workerOf(EAST), key, eastLease);

    const delivered = await fs.readFile(path.join(tmp, 'target', 'data', `${name}.bin`));
    expect(sha(delivered)).toBe(sha(content));
    expect(result).toMatchObject({ bytes: content.length, sha256: sha(content), alreadyPresent: false });
    const job = await getJob(key);
    expect(job).toMatchObject({ status: 'VERIFYING', result: { sha256: sha(content) }, bytesTransferred: content.length });
    expect(logs.some((l) => l.includes('reusing the replica of the staged copy made in the other region'))).toBe(true);
    // The copy east read is removed once the result is recorded.
    expect(await head(STAGING[EAST], staged.key)).toBeUndefined();
    expect((await fs.readdir(path.join(tmp, 'target', 'data'))).filter((f) => f.startsWith(name))).toEqual([`${name}.bin`]);
  });

  test('east waits for a replica that has not arrived yet, and delivers from it once it does', async () => {
    const { key, content, name, staged, partitionId } = await stagedInWest();
    // Replication lags: the replica is not in east's bucket yet.
    await s3.send(new DeleteObjectCommand({ Bucket: STAGING[EAST], Key: staged.key }));

    const eastLease = await claimIn(EAST, key, partitionId);
    const delivery = runTransfer(workerOf(EAST), key, eastLease);
    await logged('waiting for the staged copy made in the other region to replicate here');
    expect(await fs.readdir(path.join(tmp, 'target', 'data'))).not.toContain(`${name}.bin`);
    // The replica arrives (as S3 replication writes it), and west's copy goes with its region.
    await s3.send(
      new CopyObjectCommand({ Bucket: STAGING[EAST], Key: staged.key, CopySource: `${STAGING[WEST]}/${staged.key}` }),
    );
    await s3.send(new DeleteObjectCommand({ Bucket: STAGING[WEST], Key: staged.key }));
    await delivery;

    expect(sha(await fs.readFile(path.join(tmp, 'target', 'data', `${name}.bin`)))).toBe(sha(content));
    expect((await getJob(key)).result).toMatchObject({ bytes: content.length, sha256: sha(content) });
  });

  test('with no replica past the replication bound, east fails the job STAGED_COPY_UNAVAILABLE and never reads west’s bucket', async () => {
    const { key, name, staged, partitionId } = await stagedInWest();
    // West died before its copy replicated: east's bucket has none. West's is still there (locally
    // reachable, unlike in AWS): east must not read it.
    await s3.send(new DeleteObjectCommand({ Bucket: STAGING[EAST], Key: staged.key }));

    const eastLease = await claimIn(EAST, key, partitionId);
    // The copy was made longer ago than the bound.
    await expect(runTransfer(workerOf(EAST, { stagedReplicaWaitMs: 1 }), key, eastLease)).rejects.toMatchObject({
      code: 'STAGED_COPY_UNAVAILABLE',
    });

    const job = await getJob(key);
    expect(job.status).toBe('RUNNING');
    expect(job.lastError).toEqual({
      code: 'STAGED_COPY_UNAVAILABLE',
      message: `the staged copy s3://${STAGING[WEST]}/${staged.key} (made ${staged.stagedAt}) has not replicated to ${EAST} within 0 s: re-drive the job`,
    });
    expect(job.checkpoint?.staged).toEqual(staged);
    expect(await fs.readdir(path.join(tmp, 'target', 'data'))).not.toContain(`${name}.bin`);
    expect(await head(STAGING[WEST], staged.key)).toBeDefined();
  });

  test('a re-drive in east that finds no replica past the bound reads the source again (the customer asked for it)', async () => {
    const { content, name, staged, partitionId, job } = await stagedInWest({ keepSource: true });
    await s3.send(new DeleteObjectCommand({ Bucket: STAGING[EAST], Key: staged.key }));
    // A re-drive inherits the original's checkpoint (core/control-plane/transfers/service.ts redriveJob).
    const { job: redrive } = await stores.jobs.create(
      {
        customerId: CUSTOMER,
        flowType: job.flowType,
        sourceEndpointId: job.sourceEndpointId,
        sourcePath: job.sourcePath,
        targetEndpointId: job.targetEndpointId,
        targetPath: job.targetPath,
        idempotencyKey: unique('redrive'),
        redriveOf: job.jobId,
        ...(job.checkpoint ? { checkpoint: job.checkpoint } : {}),
      },
      { actor: 'test', region: EAST },
      { queued: true },
    );
    const key = { customerId: CUSTOMER, jobId: redrive.jobId };
    const eastLease = await claimIn(EAST, key, partitionId);

    await runTransfer(workerOf(EAST, { stagedReplicaWaitMs: 1 }), key, eastLease);

    expect(sha(await fs.readFile(path.join(tmp, 'target', 'data', `${name}.bin`)))).toBe(sha(content));
    expect(logs.some((l) => l.includes('this re-drive reads the source again'))).toBe(true);
    // Staged again, in east, under the re-drive's own key.
    expect((await getJob(key)).checkpoint?.staged).toMatchObject({
      bucket: STAGING[EAST],
      key: `staging/${CUSTOMER}/${redrive.jobId}/${name}.bin`,
      sha256: sha(content),
    });
  });

  test('a replica that is not the staged content (same size) is refused before anything reaches the target', async () => {
    const { key, content, name, staged, partitionId } = await stagedInWest();
    await s3.send(new DeleteObjectCommand({ Bucket: STAGING[WEST], Key: staged.key }));
    await s3.send(new PutObjectCommand({ Bucket: STAGING[EAST], Key: staged.key, Body: randomBytes(content.length) }));

    const eastLease = await claimIn(EAST, key, partitionId);
    await expect(runTransfer(workerOf(EAST), key, eastLease)).rejects.toMatchObject({ code: 'CONTENT_MISMATCH' });

    expect((await fs.readdir(path.join(tmp, 'target', 'data'))).filter((f) => f.startsWith(name))).toEqual([]);
  });
});
