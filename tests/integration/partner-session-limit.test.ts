/**
 * Partner protection (issue 14): an SFTP endpoint's maxConcurrency is a
 * ceiling on the sessions the engine has open at the partner, whatever the
 * backlog, and an SFTP target's missing folder is created unless the job says
 * otherwise. Against real peers: dynalite (the leases table), s3rver, and
 * OpenSSH's sshd behind a TCP proxy that counts the connections open at once.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { DriverRegistry } from '../../core/adapters/drivers';
import { DynamoSessionSlotStore } from '../../core/adapters/dynamodb/session-slots';
import { createS3Client } from '../../core/adapters/s3/client';
import { S3Driver } from '../../core/adapters/s3/driver';
import { DEFAULT_S3_COPY_CONFIG } from '../../core/adapters/s3/server-side-copy-config';
import { s3Staging } from '../../core/adapters/s3/transfer/staging';
import { LocalFileSecretStore } from '../../core/adapters/secrets/local-file-store';
import { openSftp } from '../../core/adapters/sftp/connect';
import { SftpDriver } from '../../core/adapters/sftp/driver';
import { sessionGate } from '../../core/adapters/sftp/session-gate';
import { errorResponse } from '../../core/control-plane/http/error-response';
import { workerConfigFromEnv } from '../../core/data-plane/config';
import { runBatch } from '../../core/data-plane/run-batch';
import { runTransfer, type WorkerDeps } from '../../core/data-plane/run-transfer';
import { ManualClock, systemClock } from '../../core/domain/clock';
import type { Endpoint } from '../../core/domain/endpoint';
import type { FlowType, TransferJob } from '../../core/domain/job';
import { type LeaseToken, tokenOf } from '../../core/domain/lease';
import type { JobKey } from '../../core/domain/ports';
import {
  PartnerBusyError,
  SessionSlotPool,
  type SessionSlots,
  type SlotOrder,
  slotTimingFor,
} from '../../core/domain/session-slots';
import { createLogger } from '../../core/observability/logger';
import { buildSessionSlots, buildStores, type Stores, sessionSlotTtlMs } from '../../core/runtime/wiring';
import { LOCAL_ACCOUNT_ID } from '../../local/cfn-values';
import { customerS3Client, type LocalS3, startS3 } from '../../local/s3';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';
import { type Sshd, startSshd } from '../support/sshd';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

const REGION = 'us-gov-west-1';
const CUSTOMER = 'cust-limits';
const BUCKET = 'eft-limits-customer';
const STAGING = 'eft-limits-staging';
const CUSTOMER_ACCOUNT = '111111111111';
const ORIGIN = { actor: 'test', region: REGION };

let tmp: string;
let dynamo: TestDynamo;
let s3srv: LocalS3;
let sshd: Sshd;
let proxy: TcpProxy;
let env: NodeJS.ProcessEnv;
let stores: Stores;
let engineS3: S3Client;
let s3: S3Client;
let secrets: LocalFileSecretStore;
let sshdRef: string;
let slotStore: DynamoSessionSlotStore;
const logs: string[] = [];

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'eft-limits-'));
  [dynamo, s3srv, sshd] = await Promise.all([
    startTestDynamo(),
    startS3({ directory: path.join(tmp, 's3'), buckets: [{ name: BUCKET, owner: CUSTOMER_ACCOUNT }, STAGING] }),
    startSshd(),
  ]);
  proxy = await startTcpProxy({ host: sshd.host, port: sshd.port });
  env = {
    ENDPOINTS_TABLE: dynamo.tables.endpoints,
    JOBS_TABLE: dynamo.tables.jobs,
    LEASES_TABLE: dynamo.tables.leases,
    AUDIT_TABLE: dynamo.tables.audit,
    PRINCIPALS_TABLE: dynamo.tables.principals,
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: s3srv.endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    EFT_S3_FORCE_PATH_STYLE: 'true',
    EFT_LEASE_TTL_MS: '3000',
    EFT_HEARTBEAT_MS: '200',
    EFT_PROGRESS_INTERVAL_MS: '100',
    EFT_RETRY_BASE_MS: '20',
    EFT_RETRY_MAX_MS: '200',
  };
  stores = buildStores(env);
  engineS3 = createS3Client(env);
  s3 = customerS3Client(s3srv.endpoint, REGION);
  secrets = new LocalFileSecretStore(path.join(tmp, 'secrets'));
  sshdRef = await secrets.create('sshd', { privateKey: sshd.privateKey });
  slotStore = new DynamoSessionSlotStore(dynamo.db, dynamo.tables.leases);
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  engineS3?.destroy();
  await proxy?.close();
  await Promise.all([sshd?.stop(), s3srv?.close(), dynamo?.close()]);
  await fs.rm(tmp, { recursive: true, force: true });
});

let seq = 0;
const unique = (stem: string) => `${stem}-${++seq}-${randomUUID().slice(0, 8)}`;

function pool(options: { clock?: ManualClock; ttlMs?: number; order?: SlotOrder } = {}): SessionSlotPool {
  return new SessionSlotPool(
    slotStore,
    options.clock ?? systemClock,
    REGION,
    options.order ?? 'ascending',
    slotTimingFor(options.ttlMs ?? 60_000),
  );
}

/** An SFTP endpoint on sshd, reached through the counting proxy. */
function sftpEndpoint(maxConcurrency: number, folder: string): Promise<Endpoint> {
  return stores.endpoints.create(
    {
      customerId: CUSTOMER,
      name: unique('partner'),
      type: 'SFTP',
      direction: 'BOTH',
      status: 'ACTIVE',
      maxConcurrency,
      secretRef: sshdRef,
      sftp: {
        host: proxy.host,
        port: proxy.port,
        username: sshd.username,
        basePath: path.posix.join(sshd.dataDir, folder),
        authType: 'PRIVATE_KEY',
        hostKeyFingerprint: sshd.hostKeyFingerprint,
      },
      capabilities: {
        write: true,
        renameToNew: true,
        renameOverExisting: false,
        posixRename: true,
        checkFile: false,
        multiHandleWrite: false,
      },
    },
    'test',
  );
}

function s3Endpoint(): Promise<Endpoint> {
  return stores.endpoints.create(
    {
      customerId: CUSTOMER,
      name: unique('s3'),
      type: 'S3',
      direction: 'BOTH',
      status: 'ACTIVE',
      maxConcurrency: 4,
      s3: { bucket: BUCKET, prefix: 'files/', region: REGION, bucketOwner: CUSTOMER_ACCOUNT },
    },
    'test',
  );
}

function drivers(slots: SessionSlots, slotWaitMs?: number): DriverRegistry {
  return new DriverRegistry([
    new S3Driver({ s3: () => engineS3, copyConfig: DEFAULT_S3_COPY_CONFIG }),
    new SftpDriver({
      secrets,
      networkPolicy: { allowedCidrs: ['127.0.0.0/8'] },
      slots,
      region: REGION,
      ...(slotWaitMs !== undefined ? { slotWaitMs } : {}),
    }),
  ]);
}

function workerDeps(slots: SessionSlots): WorkerDeps {
  return {
    jobs: stores.jobs,
    endpoints: stores.endpoints,
    leases: stores.leases,
    drivers: drivers(slots),
    staging: s3Staging({ s3: engineS3, bucket: STAGING, owner: LOCAL_ACCOUNT_ID }),
    clock: systemClock,
    logger: createLogger({}, (line) => logs.push(line)),
    config: workerConfigFromEnv(env),
    region: REGION,
  };
}

interface JobSpec {
  flowType: FlowType;
  source: Endpoint;
  sourcePath: string;
  target: Endpoint;
  targetPath: string;
  createDirectories?: boolean;
}

async function queuedJob(spec: JobSpec): Promise<TransferJob> {
  const { job } = await stores.jobs.create(
    {
      customerId: CUSTOMER,
      flowType: spec.flowType,
      sourceEndpointId: spec.source.endpointId,
      sourcePath: spec.sourcePath,
      targetEndpointId: spec.target.endpointId,
      targetPath: spec.targetPath,
      idempotencyKey: unique('key'),
      ...(spec.createDirectories !== undefined ? { createDirectories: spec.createDirectories } : {}),
    },
    ORIGIN,
  );
  await stores.jobs.transition(job, 'QUEUED', ORIGIN);
  return job;
}

async function leaseFor(job: TransferJob): Promise<LeaseToken> {
  const executionId = unique('exec');
  return tokenOf(await stores.leases.acquire(job.partitionId, { executionId, region: REGION }, 60_000), executionId);
}

async function runningJob(spec: JobSpec): Promise<{ key: JobKey; lease: LeaseToken }> {
  const job = await queuedJob(spec);
  const lease = await leaseFor(job);
  await stores.jobs.transition(job, 'RUNNING', { ...ORIGIN, fence: lease });
  return { key: { customerId: CUSTOMER, jobId: job.jobId }, lease };
}

async function objectBytes(key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

describe('maxConcurrency: the sessions a partner sees from the engine', () => {
  it('never has more than 2 sessions open at a partner with maxConcurrency 2, and all 10 pending files arrive', async () => {
    const folder = unique('outbox');
    await fs.mkdir(path.join(sshd.dataDir, folder));
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 10; i++) {
      const name = `f-${i}.dat`;
      const content = randomBytes(2048 + i * 101);
      await fs.writeFile(path.join(sshd.dataDir, folder, name), content);
      files.set(name, content);
    }
    const [partner, bucket] = await Promise.all([sftpEndpoint(2, folder), s3Endpoint()]);
    const spec = (name: string): JobSpec => ({
      flowType: 'SFTP_TO_S3',
      source: partner,
      sourcePath: name,
      target: bucket,
      targetPath: `${folder}/${name}`,
    });
    const names = [...files.keys()];
    // Seven workers at once, each wanting a session of its own: six single jobs and one batch of four files
    // (which shares one session between its files). Each worker has its own slots client, as separate tasks do.
    const singles = await Promise.all(names.slice(0, 6).map((name) => runningJob(spec(name))));
    const batchJobs = await Promise.all(names.slice(6).map((name) => queuedJob(spec(name))));
    const batchLease = await leaseFor(batchJobs[0] as TransferJob);
    const opened = proxy.connections;
    expect(proxy.open).toBe(0);

    const [summary, ...delivered] = await Promise.all([
      runBatch(
        workerDeps(pool()),
        { customerId: CUSTOMER, batchId: unique('batch'), jobIds: batchJobs.map((job) => job.jobId) },
        batchLease,
      ),
      ...singles.map(({ key, lease }) => runTransfer(workerDeps(pool()), key, lease)),
    ]);

    expect(summary).toEqual({ succeeded: 4, failed: 0, skipped: 0 });
    expect(delivered.map((d) => d.job.status)).toEqual(singles.map(() => 'VERIFYING'));
    // Every worker opened a session of its own, one after another, never more than two at once.
    expect(proxy.connections - opened).toBeGreaterThanOrEqual(7);
    expect(proxy.maxConcurrent).toBe(2);
    for (const [name, content] of files) expect(await objectBytes(`files/${folder}/${name}`)).toEqual(content);
    // Every slot was given back: a new holder gets one at once.
    const slot = await pool().acquire({ endpointId: partner.endpointId, limit: 2, holder: 'test', waitMs: 0 });
    await slot.release();
  }, 120_000);

  it('takes over a slot whose holder crashed (never released) once its TTL has passed', async () => {
    const clock = new ManualClock(Date.now());
    const slots = pool({ clock, ttlMs: 30_000 });
    const endpointId = unique('ep');
    // A crashed holder: it took the only slot and will never renew or release it.
    expect(
      await slotStore.take({ endpointId, slot: 0, token: 'crashed', holder: 'gone', region: REGION }, clock.now(), 30_000),
    ).toBe(true);

    await expect(slots.acquire({ endpointId, limit: 1, holder: 'test', waitMs: 0 })).rejects.toBeInstanceOf(PartnerBusyError);
    clock.advance(29_000);
    await expect(slots.acquire({ endpointId, limit: 1, holder: 'test', waitMs: 0 })).rejects.toBeInstanceOf(PartnerBusyError);
    clock.advance(2_000);
    const taken = await slots.acquire({ endpointId, limit: 1, holder: 'test', waitMs: 0 });
    expect(taken.slot).toBe(0);
    // The crashed holder's renewal is refused: its token is gone.
    expect(await slotStore.renew(endpointId, 0, 'crashed', clock.now(), 30_000)).toBe(false);
    await taken.release();
  });

  it('frees a crashed holder’s slot within the lease TTL when that is under 60 s: a takeover never waits behind a dead region’s sessions', async () => {
    // The failover drill's setting: a 3 s lease TTL (env), no EFT_SESSION_SLOT_TTL_MS. A holder whose process died
    // at t0 renews no more; its clock stopped there stands for that (its renewals rewrite the same expiry).
    expect(env.EFT_LEASE_TTL_MS).toBe('3000');
    expect(env.EFT_SESSION_SLOT_TTL_MS).toBeUndefined();
    const t0 = Date.now();
    const dead = buildSessionSlots(env, new ManualClock(t0), dynamo.db);
    const clock = new ManualClock(t0);
    const survivor = buildSessionSlots(env, clock, dynamo.db);
    const endpointId = unique('ep');
    const lost = await dead.acquire({ endpointId, limit: 1, holder: 'us-gov-west-1 killed' });
    const noticed = new Promise<string>((resolve) => lost.onLost((reason) => resolve(reason.message)));

    await expect(survivor.acquire({ endpointId, limit: 1, holder: 'us-gov-east-1', waitMs: 0 })).rejects.toBeInstanceOf(
      PartnerBusyError,
    );
    // The dead holder's lease would have lapsed by now, so the other region is taking its jobs over: the slot is free.
    clock.advance(3_001);
    const taken = await survivor.acquire({ endpointId, limit: 1, holder: 'us-gov-east-1', waitMs: 0 });
    expect(taken.slot).toBe(0);
    // Had the dead holder come back, its next renewal would have been refused and its session closed.
    await expect(noticed).resolves.toMatch(/taken over/);
    await taken.release();
    // An explicit slot TTL still wins over the lease's.
    expect(sessionSlotTtlMs({ ...env, EFT_SESSION_SLOT_TTL_MS: '45000' })).toBe(45_000);
    expect(sessionSlotTtlMs({ ...env, EFT_LEASE_TTL_MS: undefined })).toBe(60_000);
  });

  it('gives up an API-facing wait after its bound with PARTNER_BUSY (503, Retry-After), and serves the waiter once a slot frees', async () => {
    const folder = unique('busy');
    await fs.mkdir(path.join(sshd.dataDir, folder));
    await fs.writeFile(path.join(sshd.dataDir, folder, 'a.txt'), 'hello');
    const partner = await sftpEndpoint(1, folder);
    const slots = pool();
    const held = await slots.acquire({ endpointId: partner.endpointId, limit: 1, holder: 'a long transfer' });
    const api = drivers(slots, 300).driverFor(partner);
    const location = api.resolve(partner, 'a.txt');
    const connections = proxy.connections;

    const busy = await api.stat(partner, location, 'a.txt').catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(PartnerBusyError);
    expect(proxy.connections).toBe(connections); // nothing reached the partner
    const response = errorResponse(
      busy,
      'req-1',
      createLogger({}, () => undefined),
    );
    expect(response.statusCode).toBe(503);
    expect(response.headers['Retry-After']).toBe('5');
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'PARTNER_BUSY' } });

    // A waiter queued behind the holder gets the slot when it is released, not a failure.
    const waiting = drivers(slots, 60_000).driverFor(partner).stat(partner, location, 'a.txt');
    // Ticket 1 was the busy stat's: the waiter is in line once ticket 2 is drawn.
    await untilQueued(partner.endpointId, 2);
    await held.release();
    await expect(waiting).resolves.toMatchObject({ name: 'a.txt', size: 5 });
  });

  it('closes a session at once when its slot turns out to be the other region’s (detected at the first renewal)', async () => {
    const folder = unique('cross');
    await fs.mkdir(path.join(sshd.dataDir, folder));
    const partner = await sftpEndpoint(1, folder);
    if (partner.type !== 'SFTP') throw new Error('not an SFTP endpoint');
    const gate = sessionGate(openSftp, pool({ ttlMs: 2_000 }), REGION);
    const session = await gate(
      partner,
      {
        host: proxy.host,
        port: proxy.port,
        username: sshd.username,
        credentials: { privateKey: sshd.privateKey },
        hostKeyFingerprint: sshd.hostKeyFingerprint,
        networkPolicy: { allowedCidrs: ['127.0.0.0/8'] },
      },
      { purpose: 'test' },
    );
    const closed = new Promise<void>((resolve) => session.sftp.once('close', () => resolve()));
    // The other region took the same free slot within the replication lag, and its write won (last writer wins).
    await dynamo.db.send(
      new UpdateItemCommand({
        TableName: dynamo.tables.leases,
        Key: marshall({ partitionId: `session#${partner.endpointId}#0` }),
        UpdateExpression: 'SET #token = :theirs, #region = :east',
        ExpressionAttributeNames: { '#token': 'token', '#region': 'region' },
        ExpressionAttributeValues: marshall({ ':theirs': 'east-token', ':east': 'us-gov-east-1' }),
      }),
    );
    // Closed by the engine: whoever used it sees a lost connection, retries, and waits for a slot again.
    await closed;
    // ...and it gave the slot up to the other region rather than writing over its claim.
    const slot = await dynamo.db.send(
      new GetItemCommand({ TableName: dynamo.tables.leases, Key: marshall({ partitionId: `session#${partner.endpointId}#0` }) }),
    );
    expect(unmarshall(slot.Item ?? {})).toMatchObject({ token: 'east-token', region: 'us-gov-east-1' });
  });

  it('serves waiters in the order they started waiting', async () => {
    const endpointId = unique('ep');
    const slots = pool();
    const first = await slots.acquire({ endpointId, limit: 1, holder: 'first' });
    const order: string[] = [];
    const waiter = async (name: string) => {
      const slot = await slots.acquire({ endpointId, limit: 1, holder: name });
      order.push(name);
      await slot.release();
    };
    const a = waiter('a');
    await untilQueued(endpointId, 1);
    const b = waiter('b');
    await untilQueued(endpointId, 2);
    const c = waiter('c');
    await untilQueued(endpointId, 3);
    await first.release();
    await Promise.all([a, b, c]);
    expect(order).toEqual(['a', 'b', 'c']);
  });
});

/** Resolves once `tickets` waiters have drawn a ticket for the endpoint (they poll the line: an observed state). */
async function untilQueued(endpointId: string, tickets = 1): Promise<void> {
  for (;;) {
    const line = await slotStore.queue(endpointId);
    if (line.issued >= tickets) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('SFTP targets: missing folders', () => {
  it('creates a target folder that does not exist (mkdir -p) and delivers into it', async () => {
    const folder = unique('inbox');
    await fs.mkdir(path.join(sshd.dataDir, folder));
    const [partner, bucket] = await Promise.all([sftpEndpoint(2, folder), s3Endpoint()]);
    const content = randomBytes(4096);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `files/${folder}/push.bin`, Body: content }));
    const { key, lease } = await runningJob({
      flowType: 'S3_TO_SFTP',
      source: bucket,
      sourcePath: `${folder}/push.bin`,
      target: partner,
      targetPath: 'new/deeper/push.bin',
    });
    const { result } = await runTransfer(workerDeps(pool()), key, lease);
    expect(result.bytes).toBe(content.length);
    expect(await fs.readFile(path.join(sshd.dataDir, folder, 'new', 'deeper', 'push.bin'))).toEqual(content);
    expect(await fs.readdir(path.join(sshd.dataDir, folder, 'new', 'deeper'))).toEqual(['push.bin']);
  });

  it('tolerates another creator of the same folder: ten files into one new folder at once', async () => {
    const folder = unique('inbox');
    await fs.mkdir(path.join(sshd.dataDir, folder));
    const [partner, bucket] = await Promise.all([sftpEndpoint(4, folder), s3Endpoint()]);
    const contents = Array.from({ length: 10 }, (_, i) => randomBytes(500 + i));
    await Promise.all(
      contents.map((body, i) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `files/${folder}/o-${i}`, Body: body }))),
    );
    const jobs = await Promise.all(
      contents.map((_, i) =>
        runningJob({
          flowType: 'S3_TO_SFTP',
          source: bucket,
          sourcePath: `${folder}/o-${i}`,
          target: partner,
          targetPath: `shared/o-${i}`,
        }),
      ),
    );
    // Separate workers (own sessions), each finding the folder missing and creating it.
    await Promise.all(jobs.map(({ key, lease }) => runTransfer(workerDeps(pool()), key, lease)));
    for (const [i, body] of contents.entries()) {
      expect(await fs.readFile(path.join(sshd.dataDir, folder, 'shared', `o-${i}`))).toEqual(body);
    }
  });

  it('with createDirectories false, fails as before with the partner’s refusal (TARGET_PATH_MISSING)', async () => {
    const folder = unique('inbox');
    await fs.mkdir(path.join(sshd.dataDir, folder));
    const [partner, bucket] = await Promise.all([sftpEndpoint(2, folder), s3Endpoint()]);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `files/${folder}/push.bin`, Body: 'content' }));
    const { key, lease } = await runningJob({
      flowType: 'S3_TO_SFTP',
      source: bucket,
      sourcePath: `${folder}/push.bin`,
      target: partner,
      targetPath: 'missing/push.bin',
      createDirectories: false,
    });
    await expect(runTransfer(workerDeps(pool()), key, lease)).rejects.toMatchObject({ code: 'TARGET_PATH_MISSING' });
    await expect(fs.stat(path.join(sshd.dataDir, folder, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await stores.jobs.get(key))?.lastError).toMatchObject({ code: 'TARGET_PATH_MISSING' });
  });
});
