/**
 * The Fargate transfer worker end to end against local peers: dynalite (jobs,
 * endpoints, leases), s3rver, the embedded SFTP server and OpenSSH's sshd.
 * runTransfer runs in-process for the flows and failure modes; the worker also
 * runs as a real child process (tsx and the esbuild bundle) for exit codes,
 * SIGKILL, SIGTERM, lease loss and peak memory.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { watch } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DriverRegistry } from '../../core/adapters/drivers';
import { createS3Client } from '../../core/adapters/s3/client';
import { s3Staging } from '../../core/adapters/s3/transfer/staging';
import { LocalFileSecretStore } from '../../core/adapters/secrets/local-file-store';
import { temporaryPathFor } from '../../core/adapters/sftp/transfer/target';
import { redriveJob } from '../../core/control-plane/transfers/service';
import { toJobView } from '../../core/control-plane/transfers/view';
import { type WorkerConfig, workerConfigFromEnv } from '../../core/data-plane/config';
import { runTransfer, type WorkerDeps } from '../../core/data-plane/run-transfer';
import { systemClock } from '../../core/domain/clock';
import type { Endpoint, SftpCapabilities } from '../../core/domain/endpoint';
import type { FlowType, TransferJob } from '../../core/domain/job';
import { type LeaseToken, tokenOf } from '../../core/domain/lease';
import type { ExecutionStarter, JobKey, JobStore } from '../../core/domain/ports';
import { StoppedError } from '../../core/domain/transfer/errors';
import { createLogger } from '../../core/observability/logger';
import { buildStores, type Stores } from '../../core/runtime/wiring';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../../fargate-worker/runtime';
import { LOCAL_ACCOUNT_ID } from '../../local/cfn-values';
import { customerS3Client, type LocalS3, startS3 } from '../../local/s3';
import { type EmbeddedSftpServer, sshKeyFingerprint, startSftpServer } from '../../local/sftp-server';
import { builtInDrivers, engineDrivers } from '../support/drivers';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';
import { LocalFsDriver } from '../support/local-fs/driver';
import { type Sshd, startSshd } from '../support/sshd';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

jest.setTimeout(30_000);

const ROOT = path.resolve(__dirname, '../..');
const REGION = 'us-gov-west-1';
const CUSTOMER = 'cust-worker';
const BUCKET = 'eft-worker-customer';
const STAGING = 'eft-worker-staging';
/** The customer's account, which owns BUCKET (the staging bucket is the engine's, LOCAL_ACCOUNT_ID). */
const CUSTOMER_ACCOUNT = '111111111111';
const PASSWORD = 'partner-secret-password';
const KiB = 1024;
const MiB = 1024 * 1024;
const ORIGIN = { actor: 'test', region: REGION };

let tmp: string;
let dynamo: TestDynamo;
let s3srv: LocalS3;
let embedded: EmbeddedSftpServer;
let readOnlyServer: EmbeddedSftpServer;
let noRenameServer: EmbeddedSftpServer;
let sshd: Sshd;
let env: NodeJS.ProcessEnv;
let stores: Stores;
/** The engine's client (every request names the bucket owner), and the customer's own for fixtures. */
let engineS3: S3Client;
let s3: S3Client;
let secrets: LocalFileSecretStore;
let passwordRef: string;
let sshdRef: string;
let bundle: string;
const logs: string[] = [];

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'eft-worker-'));
  const roots = ['embedded', 'readonly', 'norename'].map((n) => path.join(tmp, n));
  await Promise.all(roots.map((r) => fs.mkdir(path.join(r, 'data'), { recursive: true })));
  const users = [{ username: 'partner', password: PASSWORD }];
  bundle = path.join(tmp, 'bundle', 'main.js');
  [dynamo, s3srv, embedded, readOnlyServer, noRenameServer, sshd] = await Promise.all([
    startTestDynamo(),
    startS3({ directory: path.join(tmp, 's3'), buckets: [{ name: BUCKET, owner: CUSTOMER_ACCOUNT }, STAGING] }),
    startSftpServer({ root: roots[0] as string, users }),
    startSftpServer({ root: roots[1] as string, users, readOnly: true }),
    startSftpServer({ root: roots[2] as string, users, forbidRename: true }),
    startSshd(),
    // The pure-JS crypto path (see build.mjs): the bench measures the native one.
    promisify(execFile)(process.execPath, [path.join(ROOT, 'fargate-worker', 'build.mjs'), bundle], {
      env: { ...process.env, EFT_WORKER_NATIVE_CRYPTO: 'off' },
    }),
  ]);
  await fs.mkdir(path.join(sshd.dataDir, 'data'), { recursive: true });
  env = {
    ENDPOINTS_TABLE: dynamo.tables.endpoints,
    JOBS_TABLE: dynamo.tables.jobs,
    LEASES_TABLE: dynamo.tables.leases,
    AUDIT_TABLE: dynamo.tables.audit,
    PRINCIPALS_TABLE: dynamo.tables.principals,
    STAGING_BUCKET: STAGING,
    ENGINE_ACCOUNT_ID: LOCAL_ACCOUNT_ID,
    AWS_REGION: REGION,
    PEER_REGION: 'us-gov-east-1',
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: s3srv.endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    EFT_S3_FORCE_PATH_STYLE: 'true',
    EFT_LOCAL_SECRETS_DIR: path.join(tmp, 'secrets'),
    EFT_ALLOWED_NETWORKS: '127.0.0.0/8',
    // Small parts, short leases and fast retries, so every path runs in seconds.
    EFT_PART_SIZE_BYTES: String(4 * MiB),
    EFT_LEASE_TTL_MS: '3000',
    EFT_HEARTBEAT_MS: '200',
    EFT_PROGRESS_INTERVAL_MS: '100',
    EFT_RETRY_BASE_MS: '20',
    EFT_RETRY_MAX_MS: '200',
    EFT_STALL_TIMEOUT_MS: '10000',
    // Files from 1 MiB up read and write over two SFTP channels, even on loopback, so the resume and cut paths run with both.
    EFT_SFTP_CHANNELS_MIN_BYTES: String(MiB),
    EFT_SFTP_CHANNELS_MIN_RTT_MS: '0',
    EFT_SFTP_READ_CHANNELS: '2',
    EFT_SFTP_WRITE_CHANNELS: '2',
  };
  stores = buildStores(env);
  engineS3 = createS3Client(env);
  s3 = customerS3Client(s3srv.endpoint, REGION);
  secrets = new LocalFileSecretStore(path.join(tmp, 'secrets'));
  passwordRef = await secrets.create('partner', { password: PASSWORD });
  sshdRef = await secrets.create('sshd', { privateKey: sshd.privateKey });
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  engineS3?.destroy();
  await Promise.all([
    embedded?.close(),
    readOnlyServer?.close(),
    noRenameServer?.close(),
    sshd?.stop(),
    s3srv?.close(),
    dynamo?.close(),
  ]);
  await fs.rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// Harness

type ServerName = 'embedded' | 'sshd';
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
let seq = 0;
const unique = (stem: string) => `${stem}-${++seq}-${randomUUID().slice(0, 8)}`;

interface SftpPeer {
  host: string;
  port: number;
  fingerprint: string;
  /** The endpoint's base path as clients see it, and the same folder on disk. */
  basePath: string;
  dir: string;
  username: string;
  authType: 'PASSWORD' | 'PRIVATE_KEY';
  secretRef: string;
}

function peer(name: ServerName | 'readonly' | 'norename'): SftpPeer {
  if (name === 'sshd') {
    return {
      host: sshd.host,
      port: sshd.port,
      fingerprint: sshd.hostKeyFingerprint,
      basePath: path.posix.join(sshd.dataDir, 'data'),
      dir: path.join(sshd.dataDir, 'data'),
      username: sshd.username,
      authType: 'PRIVATE_KEY',
      secretRef: sshdRef,
    };
  }
  const server = name === 'embedded' ? embedded : name === 'readonly' ? readOnlyServer : noRenameServer;
  return {
    host: server.host,
    port: server.port,
    fingerprint: server.hostKeyFingerprint,
    basePath: '/data',
    dir: path.join(tmp, name, 'data'),
    username: 'partner',
    authType: 'PASSWORD',
    secretRef: passwordRef,
  };
}

async function sftpEndpoint(
  p: SftpPeer,
  options: { port?: number; fingerprint?: string; capabilities?: SftpCapabilities } = {},
): Promise<Endpoint> {
  return stores.endpoints.create(
    {
      customerId: CUSTOMER,
      name: unique('sftp'),
      type: 'SFTP',
      direction: 'BOTH',
      status: 'ACTIVE',
      maxConcurrency: 4,
      secretRef: p.secretRef,
      sftp: {
        host: p.host,
        port: options.port ?? p.port,
        username: p.username,
        basePath: p.basePath,
        authType: p.authType,
        hostKeyFingerprint: options.fingerprint ?? p.fingerprint,
      },
      capabilities: options.capabilities ?? {
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

async function s3Endpoint(): Promise<Endpoint> {
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

/** A job moved to RUNNING under a fresh lease, as the state machine leaves it for the worker. */
async function runningJob(
  flowType: FlowType,
  source: Endpoint,
  sourcePath: string,
  target: Endpoint,
  targetPath: string,
): Promise<{ key: JobKey; lease: LeaseToken; job: TransferJob }> {
  const { job } = await stores.jobs.create(
    {
      customerId: CUSTOMER,
      flowType,
      sourceEndpointId: source.endpointId,
      sourcePath,
      targetEndpointId: target.endpointId,
      targetPath,
      idempotencyKey: unique('key'),
    },
    ORIGIN,
  );
  await stores.jobs.transition(job, 'QUEUED', ORIGIN);
  const executionId = unique('exec');
  const lease = tokenOf(await stores.leases.acquire(job.partitionId, { executionId, region: REGION }, 60_000), executionId);
  await stores.jobs.transition(job, 'RUNNING', { ...ORIGIN, fence: lease });
  return { key: { customerId: CUSTOMER, jobId: job.jobId }, lease, job };
}

/**
 * The engine's S3 client (to s3rver) through a wrapper with which a test observes
 * what the worker does with S3 and decides when it may go on: it notes every
 * command sent, tells when a part is stored, and can hold parts back or stop
 * a download's body at a given byte. What the worker sends still goes to S3.
 */
interface ControlledS3 {
  client: S3Client;
  /** The name of every command sent, in order. */
  commands: string[];
  /** The part number of every UploadPart sent to S3 (held ones once they are sent, if ever). */
  partsSent: number[];
  /** Resolves once S3 has stored part `n` of a multipart upload (its UploadPart answered). */
  partStored(n: number): Promise<void>;
  /**
   * Holds the UploadParts for part `from` and above of the next upload attempt
   * (the one whose writer sends the next UploadPart, whatever its number; an
   * attempt's parts share its abort signal): they are not sent until the
   * worker gives the attempt up and aborts them, and then fail as aborted
   * requests do. A later attempt's parts go to S3 as usual.
   */
  holdParts(from: number): void;
  /** The body of the next GetObject passes `bytes` and then stops: nothing more is delivered until `release()`. */
  holdBodyAfter(bytes: number): { release(): void };
}

type SentCommand = { constructor: { name: string }; input?: { PartNumber?: number } };
type SendOptions = { abortSignal?: AbortSignal } | undefined;

/** A stream that passes `limit` bytes, and the rest only once opened. */
class StopAfter extends Transform {
  private passed = 0;
  private opened = false;
  private waiting: (() => void) | undefined;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const room = this.limit - this.passed;
    if (this.opened || chunk.length < room) {
      this.passed += chunk.length;
      callback(null, chunk);
      return;
    }
    this.passed = this.limit;
    if (room > 0) this.push(chunk.subarray(0, room));
    this.waiting = () => callback(null, chunk.subarray(room));
  }

  open(): void {
    this.opened = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}

function controlledS3(): ControlledS3 {
  const commands: string[] = [];
  const partsSent: number[] = [];
  const stored = new Map<number, () => void>();
  const storedPromises = new Map<number, Promise<void>>();
  const partStored = (n: number) => {
    let promise = storedPromises.get(n);
    if (!promise) {
      promise = new Promise<void>((resolve) => stored.set(n, resolve));
      storedPromises.set(n, promise);
    }
    return promise;
  };
  const hold: { from: number; attempt?: AbortSignal | undefined } = { from: Number.POSITIVE_INFINITY };
  let bodyHold: StopAfter | undefined;
  const send = engineS3.send.bind(engineS3) as (command: unknown, options?: SendOptions) => Promise<unknown>;

  const client = new Proxy(engineS3, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: SentCommand, options?: SendOptions) => {
        const name = command.constructor.name;
        commands.push(name);
        const part = name === 'UploadPartCommand' ? command.input?.PartNumber : undefined;
        const signal = options?.abortSignal;
        if (part !== undefined && hold.from !== Number.POSITIVE_INFINITY) {
          if (!signal) throw new Error(`part ${part} was sent without an abort signal: it cannot be held`);
          // The attempt is the first part's sender (part 1 may well be stored before part 2 is sent).
          hold.attempt ??= signal;
          // Held until the worker aborts it: then the SDK refuses it as an aborted request.
          if (part >= hold.from && hold.attempt === signal && !signal.aborted) {
            await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
          }
        }
        if (part !== undefined && !options?.abortSignal?.aborted) partsSent.push(part);
        const result = await send(command, options);
        if (part !== undefined) {
          void partStored(part);
          stored.get(part)?.();
        }
        const stopped = name === 'GetObjectCommand' ? bodyHold : undefined;
        if (!stopped) return result;
        bodyHold = undefined;
        const { Body } = result as { Body: Readable };
        pipeline(Body, stopped, () => undefined);
        return { ...(result as object), Body: stopped };
      };
    },
  });

  return {
    client,
    commands,
    partsSent,
    partStored,
    holdParts: (from) => {
      hold.from = from;
      hold.attempt = undefined;
    },
    holdBodyAfter: (bytes) => {
      const stopped = new StopAfter(bytes);
      bodyHold = stopped;
      return { release: () => stopped.open() };
    },
  };
}

/**
 * The real job store, with a promise settled once the worker has recorded
 * progress of at least `bytes` on the job (the record as written, returned
 * by the store).
 */
function progressObserved(bytes: number): { jobs: JobStore; recorded: Promise<void> } {
  let reached: () => void = () => undefined;
  const recorded = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const jobs = new Proxy(stores.jobs, {
    get(target, property, receiver) {
      if (property !== 'recordWork') return Reflect.get(target, property, receiver);
      return async (...args: Parameters<JobStore['recordWork']>) => {
        const job = await target.recordWork(...args);
        if ((job.bytesTransferred ?? 0) >= bytes) reached();
        return job;
      };
    },
  });
  return { jobs, recorded };
}

/**
 * A stall timeout no test outlasts: where a test holds a transfer still on
 * purpose, the worker's watchdog must not end the attempt on its own clock.
 */
const NO_STALL = { stallTimeoutMs: 10 * 60_000 };

function deps(config: Partial<WorkerConfig> = {}, client: S3Client = engineS3, jobs: JobStore = stores.jobs): WorkerDeps {
  const tunables = { ...workerConfigFromEnv(env), ...config };
  return {
    jobs,
    endpoints: stores.endpoints,
    leases: stores.leases,
    drivers: engineDrivers({
      s3: client,
      secrets,
      networkPolicy: { allowedCidrs: ['127.0.0.0/8'] },
      connectTimeoutMs: tunables.connectTimeoutMs,
    }),
    staging: s3Staging({ s3: client, bucket: STAGING, owner: LOCAL_ACCOUNT_ID }),
    clock: systemClock,
    logger: createLogger({}, (line) => logs.push(line)),
    config: tunables,
    region: REGION,
  };
}

async function getJob(key: JobKey): Promise<TransferJob> {
  const job = await stores.jobs.get(key);
  if (!job) throw new Error('job vanished');
  return job;
}

async function objectBytes(key: string, bucket = BUCKET): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

async function head(key: string, bucket = BUCKET) {
  return s3
    .send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    .catch((err: { $metadata?: { httpStatusCode?: number } }) => {
      if (err.$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    });
}

/** Puts a source object; with `partSize`, as a real multipart upload (ETag "…-N"). */
async function putSource(key: string, content: Buffer, partSize?: number): Promise<void> {
  if (!partSize) {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: content }));
    return;
  }
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
  const parts = [];
  for (let at = 0, n = 1; at < content.length; at += partSize, n++) {
    const part = await s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: n, Body: content.subarray(at, at + partSize) }),
    );
    parts.push({ PartNumber: n, ETag: part.ETag });
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
}

/**
 * Expects a successful, recorded transfer of `content`. (recordWork only sets
 * fields, so the lastError of an earlier failed attempt stays after a retry
 * succeeded: `retried` allows for it.)
 */
async function expectRecorded(key: JobKey, content: Buffer, retried = false): Promise<TransferJob> {
  const job = await getJob(key);
  expect(job.status).toBe('VERIFYING'); // the worker hands the job to verification with its result
  if (!retried) expect(job.lastError).toBeUndefined();
  expect(job.result).toMatchObject({ bytes: content.length, sha256: sha(content), alreadyPresent: false });
  expect(job).toMatchObject({ bytesTransferred: content.length, bytesTotal: content.length });
  return job;
}

async function listDir(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).sort();
}

/** Resolves once `file` exists with content, as the file system reports changes in its folder (inotify). */
async function untilFileHasBytes(file: string): Promise<void> {
  let changed: () => void = () => undefined;
  const watcher = watch(path.dirname(file), () => changed());
  try {
    for (;;) {
      const next = new Promise<void>((resolve) => {
        changed = resolve;
      });
      if (((await fs.stat(file).catch(() => undefined))?.size ?? 0) > 0) return;
      await next;
    }
  } finally {
    watcher.close();
  }
}

// ---------------------------------------------------------------------------
// Flows, in-process

const SIZES: Array<[string, number, Partial<WorkerConfig>]> = [
  ['1 KB', 1000, {}],
  ['3 MB', 3 * 1000 * 1000 + 7, {}],
  ['multi-part (7 parts of 512 KiB)', 3 * MiB + 5, { partSizeBytes: 512 * KiB }],
];

describe.each<ServerName>(['embedded', 'sshd'])('flows with the %s as the SFTP side', (server) => {
  test.each(SIZES)('SFTP_TO_S3, %s: byte for byte, with its SHA-256', async (_label, size, config) => {
    const p = peer(server);
    const name = unique('in');
    const content = randomBytes(size);
    await fs.writeFile(path.join(p.dir, `${name}.bin`), content);
    const { key, lease } = await runningJob(
      'SFTP_TO_S3',
      await sftpEndpoint(p),
      `${name}.bin`,
      await s3Endpoint(),
      `out/${name}.bin`,
    );

    const { client, commands } = controlledS3();
    const { result } = await runTransfer(deps(config, client), key, lease);

    const objectKey = `files/out/${name}.bin`;
    expect(sha(await objectBytes(objectKey))).toBe(sha(content));
    const job = await expectRecorded(key, content);
    const stored = await head(objectKey);
    expect(result).toEqual(job.result);
    expect(result).toMatchObject({ etag: stored?.ETag, location: `s3://${BUCKET}/${objectKey}` });
    const parts = Math.ceil(size / (config.partSizeBytes ?? 4 * MiB));
    // One part: a single PUT carrying the sha256; more: multipart (the sha256 is on the job only).
    const count = (name: string) => commands.filter((c) => c === name).length;
    if (parts === 1) {
      expect(stored?.Metadata?.sha256).toBe(sha(content));
      expect([count('PutObjectCommand'), count('CreateMultipartUploadCommand')]).toEqual([1, 0]);
    } else {
      expect(stored?.Metadata?.sha256).toBeUndefined();
      expect([count('UploadPartCommand'), count('CompleteMultipartUploadCommand'), count('PutObjectCommand')]).toEqual([
        parts,
        1,
        0,
      ]);
    }
    expect(job.checkpoint?.multipart).toBeUndefined();
  });

  test.each(SIZES)('S3_TO_SFTP, %s: byte for byte, renamed into place', async (_label, size, config) => {
    const p = peer(server);
    const name = unique('out');
    const content = randomBytes(size);
    // The "multi-part" case reads a source that was itself uploaded in parts.
    await putSource(`files/${name}.bin`, content, config.partSizeBytes ? 5 * MiB : undefined);
    const { key, lease } = await runningJob(
      'S3_TO_SFTP',
      await s3Endpoint(),
      `${name}.bin`,
      await sftpEndpoint(p),
      `${name}.bin`,
    );

    const { result } = await runTransfer(deps(config), key, lease);

    expect(sha(await fs.readFile(path.join(p.dir, `${name}.bin`)))).toBe(sha(content));
    await expectRecorded(key, content);
    expect(result.location).toBe(`sftp://${p.host}:${p.port}${p.basePath}/${name}.bin`);
    expect((await listDir(p.dir)).filter((f) => f.startsWith(name))).toEqual([`${name}.bin`]);
  });

  test.each(SIZES)('SFTP_TO_SFTP, %s: staged through S3, byte for byte', async (_label, size, config) => {
    const from = peer(server);
    const to = peer(server === 'sshd' ? 'embedded' : 'sshd');
    const name = unique('hop');
    const content = randomBytes(size);
    await fs.writeFile(path.join(from.dir, `${name}.bin`), content);
    const { key, lease } = await runningJob(
      'SFTP_TO_SFTP',
      await sftpEndpoint(from),
      `${name}.bin`,
      await sftpEndpoint(to),
      `${name}.bin`,
    );

    await runTransfer(deps(config), key, lease);

    expect(sha(await fs.readFile(path.join(to.dir, `${name}.bin`)))).toBe(sha(content));
    const job = await expectRecorded(key, content);
    const staged = job.checkpoint?.staged as { bucket: string; key: string; sha256: string; bytes: number };
    expect(staged).toMatchObject({
      bucket: STAGING,
      key: `staging/${CUSTOMER}/${key.jobId}/${name}.bin`,
      sha256: sha(content),
      bytes: size,
    });
    // Removed once the result was recorded.
    expect(await head(staged.key, STAGING)).toBeUndefined();
    expect((await listDir(to.dir)).filter((f) => f.startsWith(name))).toEqual([`${name}.bin`]);
  });
});

// ---------------------------------------------------------------------------
// A kind added in one folder

/**
 * tests/support/local-fs is a whole endpoint kind (a folder on this machine),
 * added without a line of flow code: the worker moves its files with the same
 * copy, resume and no-overwrite rules as the built-in kinds.
 */
describe('a kind added in one folder (LOCAL_FS): the same flow code moves its files', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(tmp, 'local-fs-'));
  });

  function withLocalFs(config: Partial<WorkerConfig> = {}): WorkerDeps {
    const base = deps(config);
    const peers = { s3: engineS3, secrets, networkPolicy: { allowedCidrs: ['127.0.0.0/8'] } };
    return { ...base, drivers: new DriverRegistry([...builtInDrivers(peers), new LocalFsDriver()]) };
  }

  function localEndpoint(): Promise<Endpoint> {
    return stores.endpoints.create(
      {
        customerId: CUSTOMER,
        name: unique('local'),
        type: 'LOCAL_FS',
        direction: 'BOTH',
        status: 'ACTIVE',
        maxConcurrency: 4,
        localFs: { root },
      },
      'test',
    );
  }

  test('LOCAL_FS → S3, in parts: byte for byte, with its SHA-256', async () => {
    const name = unique('local-in');
    const content = randomBytes(3 * MiB + 5);
    await fs.writeFile(path.join(root, `${name}.bin`), content);
    const { key, lease } = await runningJob(
      'LOCAL_FS_TO_S3',
      await localEndpoint(),
      `${name}.bin`,
      await s3Endpoint(),
      `${name}.bin`,
    );

    await runTransfer(withLocalFs({ partSizeBytes: 512 * KiB }), key, lease);

    expect(sha(await objectBytes(`files/${name}.bin`))).toBe(sha(content));
    await expectRecorded(key, content);
  });

  test('S3 → LOCAL_FS: byte for byte, and only the final name is left', async () => {
    const name = unique('local-out');
    const content = randomBytes(1000);
    await putSource(`files/${name}.bin`, content);
    const { key, lease } = await runningJob(
      'S3_TO_LOCAL_FS',
      await s3Endpoint(),
      `${name}.bin`,
      await localEndpoint(),
      `${name}.bin`,
    );

    const { result } = await runTransfer(withLocalFs(), key, lease);

    expect(sha(await fs.readFile(path.join(root, `${name}.bin`)))).toBe(sha(content));
    expect(result.location).toBe(`file://${path.join(root, `${name}.bin`)}`);
    expect((await listDir(root)).filter((f) => f.startsWith(name))).toEqual([`${name}.bin`]);
  });

  test('LOCAL_FS → SFTP: neither keeps files durably, so the copy is staged through S3', async () => {
    const to = peer('sshd');
    const name = unique('local-hop');
    const content = randomBytes(3000);
    await fs.writeFile(path.join(root, `${name}.bin`), content);
    const { key, lease } = await runningJob(
      'LOCAL_FS_TO_SFTP',
      await localEndpoint(),
      `${name}.bin`,
      await sftpEndpoint(to),
      `${name}.bin`,
    );

    await runTransfer(withLocalFs(), key, lease);

    expect(sha(await fs.readFile(path.join(to.dir, `${name}.bin`)))).toBe(sha(content));
    const job = await expectRecorded(key, content);
    expect(job.checkpoint?.staged).toMatchObject({ bucket: STAGING, sha256: sha(content) });
  });

  test('S3 → LOCAL_FS onto another file of the same name: TARGET_EXISTS, the file untouched', async () => {
    const name = unique('local-taken');
    const theirs = randomBytes(1000);
    await fs.writeFile(path.join(root, `${name}.bin`), theirs);
    await putSource(`files/${name}.bin`, randomBytes(1000));
    const { key, lease } = await runningJob(
      'S3_TO_LOCAL_FS',
      await s3Endpoint(),
      `${name}.bin`,
      await localEndpoint(),
      `${name}.bin`,
    );

    await expect(runTransfer(withLocalFs(), key, lease)).rejects.toMatchObject({ code: 'TARGET_EXISTS' });

    expect(sha(await fs.readFile(path.join(root, `${name}.bin`)))).toBe(sha(theirs));
    expect((await listDir(root)).filter((f) => f.startsWith(name))).toEqual([`${name}.bin`]);
  });
});

// ---------------------------------------------------------------------------
// No-overwrite commit

describe('the destination already holds a file', () => {
  test('the same content at an SFTP target: alreadyPresent, no second delivery', async () => {
    const p = peer('sshd');
    const name = unique('same');
    const content = randomBytes(300 * KiB);
    await putSource(`files/${name}.bin`, content);
    const source = await s3Endpoint();
    const target = await sftpEndpoint(p);
    const first = await runningJob('S3_TO_SFTP', source, `${name}.bin`, target, `${name}.bin`);
    await runTransfer(deps(), first.key, first.lease);
    const before = await fs.stat(path.join(p.dir, `${name}.bin`));

    const second = await runningJob('S3_TO_SFTP', source, `${name}.bin`, target, `${name}.bin`);
    const { result } = await runTransfer(deps(), second.key, second.lease);

    expect(result).toMatchObject({ alreadyPresent: true, bytes: content.length, sha256: sha(content) });
    const after = await fs.stat(path.join(p.dir, `${name}.bin`));
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect((await getJob(second.key)).result).toEqual(result);
    expect((await listDir(p.dir)).filter((f) => f.startsWith(name))).toEqual([`${name}.bin`]);
  });

  test('the same content at an S3 target (a multipart object, no sha256 metadata): alreadyPresent', async () => {
    const p = peer('embedded');
    const name = unique('same-s3');
    const content = randomBytes(2 * MiB + 3);
    await fs.writeFile(path.join(p.dir, `${name}.bin`), content);
    const source = await sftpEndpoint(p);
    const target = await s3Endpoint();
    const config = { partSizeBytes: 512 * KiB };
    const first = await runningJob('SFTP_TO_S3', source, `${name}.bin`, target, `${name}.bin`);
    const { result: delivered } = await runTransfer(deps(config), first.key, first.lease);
    const before = await head(`files/${name}.bin`);
    expect(before?.Metadata?.sha256).toBeUndefined();
    const second = await runningJob('SFTP_TO_S3', source, `${name}.bin`, target, `${name}.bin`);

    const { result } = await runTransfer(deps(config), second.key, second.lease);

    expect(result).toMatchObject({ alreadyPresent: true, bytes: content.length, sha256: sha(content), etag: delivered.etag });
    expect((await head(`files/${name}.bin`))?.LastModified).toEqual(before?.LastModified);
  });

  test.each([
    ['other content of the same size', 0],
    ['a different size', 1],
  ])('%s at an SFTP target: TARGET_EXISTS, the file untouched, no temporary file left', async (_label, extra) => {
    const p = peer('embedded');
    const name = unique('clash');
    await putSource(`files/${name}.bin`, randomBytes(64 * KiB));
    const theirs = randomBytes(64 * KiB + extra);
    await fs.writeFile(path.join(p.dir, `${name}.bin`), theirs);
    const { key, lease } = await runningJob(
      'S3_TO_SFTP',
      await s3Endpoint(),
      `${name}.bin`,
      await sftpEndpoint(p),
      `${name}.bin`,
    );

    await expect(runTransfer(deps(), key, lease)).rejects.toMatchObject({ code: 'TARGET_EXISTS' });

    expect((await fs.readFile(path.join(p.dir, `${name}.bin`))).equals(theirs)).toBe(true);
    expect((await listDir(p.dir)).filter((f) => f.startsWith(name))).toEqual([`${name}.bin`]);
    const job = await getJob(key);
    expect(job.lastError).toMatchObject({ code: 'TARGET_EXISTS' });
    expect(job.result).toBeUndefined();
  });

  test('other content at an S3 target: TARGET_EXISTS, the object untouched', async () => {
    const p = peer('embedded');
    const name = unique('clash-s3');
    await fs.writeFile(path.join(p.dir, `${name}.bin`), randomBytes(10 * KiB));
    const theirs = randomBytes(10 * KiB);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `files/${name}.bin`, Body: theirs }));
    const { key, lease } = await runningJob(
      'SFTP_TO_S3',
      await sftpEndpoint(p),
      `${name}.bin`,
      await s3Endpoint(),
      `${name}.bin`,
    );

    await expect(runTransfer(deps(), key, lease)).rejects.toMatchObject({ code: 'TARGET_EXISTS' });
    expect((await objectBytes(`files/${name}.bin`)).equals(theirs)).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// Delivery on SFTP

describe('delivery to SFTP', () => {
  test('a watcher polling the destination never sees the final name with partial content', async () => {
    const p = peer('embedded');
    const name = unique('watched');
    const content = randomBytes(24 * MiB);
    await putSource(`files/${name}.bin`, content);
    const { key, lease } = await runningJob(
      'S3_TO_SFTP',
      await s3Endpoint(),
      `${name}.bin`,
      await sftpEndpoint(p),
      `${name}.bin`,
    );
    const finalPath = path.join(p.dir, `${name}.bin`);
    const sizesSeen: number[] = [];
    let done = false;
    let seeTemporary: () => void = () => undefined;
    const sawTemporary = new Promise<void>((resolve) => {
      seeTemporary = resolve;
    });
    const isTemporary = (f: string) => f.startsWith(name) && f.endsWith('.tmp');
    // A partner's watcher: it polls the folder as fast as it can, all through the transfer.
    const watcher = (async () => {
      while (!done) {
        const stats = await fs.stat(finalPath).catch(() => undefined);
        if (stats) sizesSeen.push(stats.size);
        if ((await fs.readdir(p.dir)).some(isTemporary)) seeTemporary();
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    // Half the source, then nothing until the watcher has seen the transfer under way.
    const s3c = controlledS3();
    const source = s3c.holdBodyAfter(content.length / 2);

    const transfer = runTransfer(deps(NO_STALL, s3c.client), key, lease).finally(() => {
      done = true;
    });
    await sawTemporary;
    source.release();
    await transfer;
    await watcher;

    expect(sizesSeen.every((s) => s === content.length)).toBe(true);
    expect(sha(await fs.readFile(finalPath))).toBe(sha(content));
  });

  test('a server that forbids renames gets the final name written directly, recorded as direct-write', async () => {
    const p = peer('norename');
    const name = unique('direct');
    const content = randomBytes(2 * MiB + 1);
    await putSource(`files/${name}.bin`, content);
    const capabilities = { write: true, renameToNew: false, renameOverExisting: false, posixRename: false, checkFile: false };
    const target = await sftpEndpoint(p, { capabilities });
    const { key, lease } = await runningJob('S3_TO_SFTP', await s3Endpoint(), `${name}.bin`, target, `${name}.bin`);

    await runTransfer(deps(), key, lease);

    expect(sha(await fs.readFile(path.join(p.dir, `${name}.bin`)))).toBe(sha(content));
    const job = await expectRecorded(key, content);
    expect(job.checkpoint).toMatchObject({ delivery: 'direct-write' });
    expect((await listDir(p.dir)).filter((f) => f.startsWith(name))).toEqual([`${name}.bin`]);
  });
});

// ---------------------------------------------------------------------------
// Failures

describe('failures', () => {
  let proxy: TcpProxy;
  beforeEach(async () => {
    proxy = await startTcpProxy({ host: sshd.host, port: sshd.port });
  });
  afterEach(async () => {
    await proxy.close();
  });

  test('SFTP_TO_S3: a connection cut mid-stream is retried and resumes after the finished parts', async () => {
    const p = peer('sshd');
    const name = unique('cut-in');
    const content = randomBytes(8 * MiB + 11);
    await fs.writeFile(path.join(p.dir, `${name}.bin`), content);
    const source = await sftpEndpoint(p, { port: proxy.port });
    const { key, lease } = await runningJob('SFTP_TO_S3', source, `${name}.bin`, await s3Endpoint(), `${name}.bin`);
    const partSize = 512 * KiB;
    // The first attempt's parts from 2 on are held back: its upload window (2 parts) then
    // stops the worker reading about 2 MiB into the file, so the cut below lands mid-stream
    // whatever the machine's speed, and part 1 is the only finished part to resume after.
    const s3c = controlledS3();
    s3c.holdParts(2);
    logs.length = 0;

    const transfer = runTransfer(deps({ partSizeBytes: partSize, partConcurrency: 2, ...NO_STALL }, s3c.client), key, lease);
    await s3c.partStored(1);
    // The worker's next read of the source finds the connection gone; its parts 2 and 3 were
    // never stored (they are aborted with the attempt), so it resumes exactly after part 1.
    expect(proxy.cutAll()).toBe(1);
    await transfer;

    expect(proxy.connections).toBe(2);
    expect(sha(await objectBytes(`files/${name}.bin`))).toBe(sha(content));
    await expectRecorded(key, content);
    const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.message === 'retrying after a transient failure').map((l) => l.code)).toEqual([
      'CONNECTION_LOST',
    ]);
    const resumed = lines.find((l) => l.message === 'resuming after the finished parts');
    expect(resumed?.resumeAt).toBe(partSize);
    // Every part went to S3 once: part 1 before the cut, the others after it.
    const parts = Math.ceil(content.length / partSize);
    expect(s3c.partsSent[0]).toBe(1);
    expect([...s3c.partsSent].sort((a, b) => a - b)).toEqual(Array.from({ length: parts }, (_, i) => i + 1));
  });

  test('S3_TO_SFTP: a connection cut mid-stream is retried and resumes after the acknowledged bytes', async () => {
    const p = peer('sshd');
    const name = unique('cut-out');
    const content = randomBytes(12 * MiB + 5);
    await putSource(`files/${name}.bin`, content);
    const target = await sftpEndpoint(p, { port: proxy.port });
    const { key, lease } = await runningJob('S3_TO_SFTP', await s3Endpoint(), `${name}.bin`, target, `${name}.bin`);
    // The source stops after 12 whole WRITE requests (3 hash marks of 4 requests) until the
    // cut: the worker cannot write past them, and once the server has acknowledged all of
    // them, the job's progress says so.
    const request = workerConfigFromEnv(env).sftpRequestBytes;
    const mark = 4 * request;
    const stopAt = 3 * mark;
    const s3c = controlledS3();
    s3c.holdBodyAfter(stopAt);
    const progress = progressObserved(stopAt);
    logs.length = 0;

    const transfer = runTransfer(deps({ hashMarkBytes: mark, ...NO_STALL }, s3c.client, progress.jobs), key, lease);
    await progress.recorded;
    expect(proxy.cutAll()).toBe(1);
    // The first attempt's source stays stopped: the worker gives it up with the connection.
    await transfer;

    expect(proxy.connections).toBe(2);
    expect(sha(await fs.readFile(path.join(p.dir, `${name}.bin`)))).toBe(sha(content));
    await expectRecorded(key, content);
    const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.message === 'retrying after a transient failure').map((l) => l.code)).toEqual([
      'CONNECTION_LOST',
    ]);
    const resumed = lines.find((l) => l.message === 'resuming after the acknowledged bytes');
    expect(resumed?.resumeAt).toBe(stopAt);
    expect((await listDir(p.dir)).filter((f) => f.startsWith(name))).toEqual([`${name}.bin`]);
  });

  test('SFTP_TO_S3 stopped mid-transfer (SIGTERM): the multipart upload is aborted, STOPPED recorded, no object', async () => {
    const p = peer('sshd');
    const name = unique('stopped');
    await fs.writeFile(path.join(p.dir, `${name}.bin`), randomBytes(8 * MiB));
    const source = await sftpEndpoint(p, { port: proxy.port });
    const { key, lease } = await runningJob('SFTP_TO_S3', source, `${name}.bin`, await s3Endpoint(), `${name}.bin`);
    // The parts from 2 on are held: the transfer cannot finish, and part 1 is in S3 when it stops.
    const s3c = controlledS3();
    s3c.holdParts(2);
    const stop = new AbortController();

    const transfer = runTransfer(deps({ partSizeBytes: 512 * KiB, ...NO_STALL }, s3c.client), key, lease, {
      signal: stop.signal,
    });
    await s3c.partStored(1);
    stop.abort(new StoppedError());

    await expect(transfer).rejects.toMatchObject({ code: 'STOPPED' });
    expect(s3c.commands).toContain('AbortMultipartUploadCommand');
    expect(s3c.commands).not.toContain('CompleteMultipartUploadCommand');
    expect(await head(`files/${name}.bin`)).toBeUndefined();
    const job = await getJob(key);
    expect(job.lastError).toMatchObject({ code: 'STOPPED' });
    expect(job.result).toBeUndefined();
  });

  test('a host key mismatch fails fast with HOST_KEY_MISMATCH, without retrying', async () => {
    const p = peer('sshd');
    const name = unique('mitm');
    await fs.writeFile(path.join(p.dir, `${name}.bin`), 'data');
    const bogus = sshKeyFingerprint(Buffer.from('someone else'));
    const source = await sftpEndpoint(p, { port: proxy.port, fingerprint: bogus });
    const { key, lease } = await runningJob('SFTP_TO_S3', source, `${name}.bin`, await s3Endpoint(), `${name}.bin`);

    await expect(runTransfer(deps(), key, lease)).rejects.toMatchObject({ code: 'HOST_KEY_MISMATCH' });

    expect(proxy.connections).toBe(1);
    const job = await getJob(key);
    expect(job.lastError).toMatchObject({ code: 'HOST_KEY_MISMATCH', message: expect.stringContaining(bogus) });
    expect(await head(`files/${name}.bin`)).toBeUndefined();
  });

  test('a missing source fails with SOURCE_MISSING, and no secret appears in the recorded error', async () => {
    const { key, lease } = await runningJob(
      'SFTP_TO_S3',
      await sftpEndpoint(peer('embedded')),
      'nope.bin',
      await s3Endpoint(),
      'x.bin',
    );
    await expect(runTransfer(deps(), key, lease)).rejects.toMatchObject({ code: 'SOURCE_MISSING' });
    const job = await getJob(key);
    expect(job.lastError).toEqual({
      code: 'SOURCE_MISSING',
      message: `the source file /data/nope.bin does not exist on sftp://127.0.0.1:${embedded.port}`,
    });
    expect(JSON.stringify(job)).not.toContain(PASSWORD);
  });

  test('SFTP_TO_SFTP: a retry after the second hop failed reuses the staged copy, never reading the source again', async () => {
    const from = peer('embedded');
    const name = unique('restage');
    const content = randomBytes(MiB + 9);
    await fs.writeFile(path.join(from.dir, `${name}.bin`), content);
    const target = await sftpEndpoint(peer('readonly'));
    const { key, lease } = await runningJob('SFTP_TO_SFTP', await sftpEndpoint(from), `${name}.bin`, target, `${name}.bin`);

    await expect(runTransfer(deps(), key, lease)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    const failed = await getJob(key);
    expect(failed.checkpoint?.staged).toMatchObject({ bytes: content.length, sha256: sha(content) });

    // The partner fixes its server (the endpoint now points at a writable one) and the source is gone.
    await fs.rm(path.join(from.dir, `${name}.bin`));
    const writable = peer('sshd');
    await stores.endpoints.update(
      CUSTOMER,
      target.endpointId,
      target.version,
      {
        secretRef: writable.secretRef,
        sftp: {
          host: writable.host,
          port: writable.port,
          username: writable.username,
          basePath: writable.basePath,
          authType: writable.authType,
          hostKeyFingerprint: writable.fingerprint,
        },
      },
      'test',
      'endpoint.updated',
    );
    logs.length = 0;

    await runTransfer(deps(), key, lease);

    expect(sha(await fs.readFile(path.join(writable.dir, `${name}.bin`)))).toBe(sha(content));
    await expectRecorded(key, content, true);
    expect(logs.some((l) => l.includes('reusing the staged copy'))).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// The worker as a process

interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  /** The JSON log lines, parsed. */
  lines(): Array<Record<string, unknown>>;
}

function startWorker(how: 'tsx' | 'bundle', key: JobKey, lease: LeaseToken, extra: NodeJS.ProcessEnv = {}): WorkerProcess {
  // The container's Node flags (fargate-worker/runtime.ts).
  const args = [...WORKER_NODE_FLAGS, ...(how === 'tsx' ? ['--import', 'tsx', 'fargate-worker/main.ts'] : [bundle])];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env, ...extra, EFT_JOB: JSON.stringify(key), EFT_LEASE: JSON.stringify(lease) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    output += s;
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    output += s;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = () =>
    output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, exited, output: () => output, lines };
}

type RunningJob = { key: JobKey; lease: LeaseToken; job: TransferJob };

/**
 * A job ended FAILED under its lease (as FailTransfer or the reconciler ends one whose worker died), then
 * re-driven through the API's service; the re-drive RUNNING under a new lease, as its execution leaves it.
 */
async function failAndRedrive(key: JobKey, lease: LeaseToken): Promise<RunningJob> {
  await stores.jobs.transition(key, 'FAILED', { ...ORIGIN, fence: lease, errorCode: 'WORKER_LOST', errorMessage: 'killed' });
  await stores.leases.release(lease);
  return redriveRunning(key);
}

/** A re-drive of a FAILED job (with the request's Idempotency-Key, if any), RUNNING under the partition's lease. */
async function redriveRunning(key: JobKey, clientKey?: string): Promise<RunningJob> {
  const started: JobKey[] = [];
  const executions: ExecutionStarter = {
    start: async (job) => {
      started.push(job);
    },
    startBatch: async () => {
      throw new Error('a re-drive is never batched');
    },
  };
  const actor = { customerId: CUSTOMER, principalArn: `arn:aws-us-gov:iam::${CUSTOMER_ACCOUNT}:role/test` };
  const transferDeps = {
    jobs: stores.jobs,
    endpoints: stores.endpoints,
    drivers: engineDrivers(),
    executions,
    leases: stores.leases,
    leaseTtlMs: 60_000,
    clock: systemClock,
    region: REGION,
  };
  const { job } = await redriveJob(transferDeps, actor, key.jobId, clientKey);
  expect(started.map((k) => k.jobId)).toEqual([job.jobId]);
  // Executions of one region share the partition's lease: a second one joins it.
  const executionId = unique('exec');
  const next = tokenOf(await stores.leases.acquire(job.partitionId, { executionId, region: REGION }, 60_000), executionId);
  const running = await stores.jobs.transition(job, 'RUNNING', { ...ORIGIN, fence: next });
  return { key: { customerId: CUSTOMER, jobId: job.jobId }, lease: next, job: running };
}

describe('the worker process', () => {
  let proxy: TcpProxy;
  beforeEach(async () => {
    proxy = await startTcpProxy({ host: sshd.host, port: sshd.port });
  });
  afterEach(async () => {
    await proxy.close();
  });

  test('node --import tsx fargate-worker/main.ts records the result and exits 0', async () => {
    const p = peer('sshd');
    const name = unique('child');
    const content = randomBytes(1000);
    await fs.writeFile(path.join(p.dir, `${name}.bin`), content);
    const { key, lease } = await runningJob(
      'SFTP_TO_S3',
      await sftpEndpoint(p),
      `${name}.bin`,
      await s3Endpoint(),
      `${name}.bin`,
    );

    const worker = startWorker('tsx', key, lease);
    expect(await worker.exited).toBe(0);

    expect(sha(await objectBytes(`files/${name}.bin`))).toBe(sha(content));
    await expectRecorded(key, content);
    expect(worker.lines().at(-1)).toMatchObject({ message: 'worker exit', exitCode: 0, maxRssBytes: expect.any(Number) });
    expect(worker.output()).not.toContain(sshd.privateKey.split('\n')[1]);
  });

  /** An S3_TO_SFTP job through the proxy, and the worker held mid-transfer. */
  async function heldMidTransfer(extra: NodeJS.ProcessEnv = {}) {
    const p = peer('sshd');
    const name = unique('held');
    const content = randomBytes(8 * MiB);
    await putSource(`files/${name}.bin`, content);
    const target = await sftpEndpoint(p, { port: proxy.port });
    const job = await runningJob('S3_TO_SFTP', await s3Endpoint(), `${name}.bin`, target, `${name}.bin`);
    const finalPath = path.join(p.dir, `${name}.bin`);
    const tmpPath = path.join(p.dir, path.basename(temporaryPathFor(`${p.basePath}/${name}.bin`, job.key.jobId)));
    const held = proxy.holdAfter(3 * MiB);
    // Held on purpose, for as long as the test needs: the worker's stall watchdog must not retry meanwhile.
    const worker = startWorker('bundle', job.key, job.lease, { EFT_STALL_TIMEOUT_MS: String(NO_STALL.stallTimeoutMs), ...extra });
    const exitedEarly = worker.exited.then((code) => Promise.reject(new Error(`worker exited ${code}: ${worker.output()}`)));
    await Promise.race([held, exitedEarly]);
    // What got through before the hold reaches the file on the server: the transfer is under way there.
    await Promise.race([untilFileHasBytes(tmpPath), exitedEarly]);
    return { ...job, worker, content, name, dir: p.dir, finalPath, tmpPath };
  }

  test('SIGKILL mid-transfer leaves no partial file at the final name; a second run delivers exactly one copy', async () => {
    const run = await heldMidTransfer();
    expect((await fs.stat(run.tmpPath)).size).toBeLessThan(run.content.length); // mid-transfer indeed

    run.worker.child.kill('SIGKILL');
    expect(await run.worker.exited).toBeNull();
    proxy.release();

    await expect(fs.stat(run.finalPath)).rejects.toMatchObject({ code: 'ENOENT' });
    const again = startWorker('bundle', run.key, run.lease);
    expect(await again.exited).toBe(0);
    expect(sha(await fs.readFile(run.finalPath))).toBe(sha(run.content));
    expect((await listDir(run.dir)).filter((f) => f.startsWith(run.name))).toEqual([`${run.name}.bin`]);
    await expectRecorded(run.key, run.content);
  });

  test('a lost lease (a newer epoch) stops the worker at once with exit 3, committing and recording nothing', async () => {
    const run = await heldMidTransfer();
    // Another owner took over: the lease and the job move to a newer epoch.
    await dynamo.db.send(
      new UpdateItemCommand({
        TableName: dynamo.tables.leases,
        Key: marshall({ partitionId: run.job.partitionId }),
        UpdateExpression: 'SET epoch = :next',
        ExpressionAttributeValues: marshall({ ':next': run.lease.epoch + 1 }),
      }),
    );
    await dynamo.db.send(
      new UpdateItemCommand({
        TableName: dynamo.tables.jobs,
        Key: marshall(run.key),
        UpdateExpression: 'SET fenceEpoch = :next',
        ExpressionAttributeValues: marshall({ ':next': run.lease.epoch + 1 }),
      }),
    );

    expect(await run.worker.exited).toBe(3);
    proxy.release();

    await expect(fs.stat(run.finalPath)).rejects.toMatchObject({ code: 'ENOENT' });
    const job = await getJob(run.key);
    expect(job.result).toBeUndefined();
    expect(job.lastError).toBeUndefined();
    expect(run.worker.lines().some((l) => l.message === 'lease lost: aborting the transfer')).toBe(true);
  });

  test('SIGTERM stops the transfer, removes the temporary file, records STOPPED and exits 143 (interrupted)', async () => {
    const run = await heldMidTransfer();

    run.worker.child.kill('SIGTERM');
    // Let the held connection flow again, so the clean-up requests get through.
    proxy.release();
    expect(await run.worker.exited).toBe(143);

    expect((await listDir(run.dir)).filter((f) => f.startsWith(run.name))).toEqual([]);
    const job = await getJob(run.key);
    expect(job.lastError).toMatchObject({ code: 'STOPPED' });
    expect(job.result).toBeUndefined();
  });

  test("a SIGKILLed attempt's temporary file is the re-drive's: it delivers one complete copy and no .tmp remains", async () => {
    const run = await heldMidTransfer();
    run.worker.child.kill('SIGKILL');
    expect(await run.worker.exited).toBeNull();
    proxy.release();
    // The killed attempt's partial file stays at the partner: nobody was left to remove it.
    const left = (await fs.stat(run.tmpPath)).size;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(run.content.length);

    const redrive = await failAndRedrive(run.key, run.lease);
    expect(redrive.job).toMatchObject({ redriveOf: run.key.jobId, chainId: run.key.jobId });
    expect(redrive.key.jobId).not.toBe(run.key.jobId);
    // The FAILED job's view names the file its attempt left, so the customer can tell whose it is.
    expect(toJobView(await getJob(run.key)).temporaryFile).toBe(path.basename(run.tmpPath));
    const again = startWorker('bundle', redrive.key, redrive.lease);
    expect(await again.exited).toBe(0);

    expect(sha(await fs.readFile(run.finalPath))).toBe(sha(run.content));
    expect((await listDir(run.dir)).filter((f) => f.startsWith(run.name))).toEqual([`${run.name}.bin`]);
    await expectRecorded(redrive.key, run.content);
  });

  test("a re-drive of a re-drive keeps the chain's first job, and so its temporary file", async () => {
    const run = await heldMidTransfer();
    run.worker.child.kill('SIGKILL');
    expect(await run.worker.exited).toBeNull();
    proxy.release();
    // The first re-drive ends FAILED before its worker wrote anything (e.g. killed at its start).
    const first = await failAndRedrive(run.key, run.lease);
    const second = await failAndRedrive(first.key, first.lease);
    expect(second.job).toMatchObject({ redriveOf: first.key.jobId, chainId: run.key.jobId });
    expect((await fs.stat(run.tmpPath)).size).toBeGreaterThan(0); // still the killed attempt's file

    const again = startWorker('bundle', second.key, second.lease);
    expect(await again.exited).toBe(0);

    expect(sha(await fs.readFile(run.finalPath))).toBe(sha(run.content));
    expect((await listDir(run.dir)).filter((f) => f.startsWith(run.name))).toEqual([`${run.name}.bin`]);
  });

  test('a lost lease leaves the temporary file to the next owner of the job, which reuses it: no .tmp remains', async () => {
    const run = await heldMidTransfer();
    // Another owner took over the partition under a newer epoch.
    const next = { ...run.lease, epoch: run.lease.epoch + 1 };
    await dynamo.db.send(
      new UpdateItemCommand({
        TableName: dynamo.tables.leases,
        Key: marshall({ partitionId: run.job.partitionId }),
        UpdateExpression: 'SET epoch = :next',
        ExpressionAttributeValues: marshall({ ':next': next.epoch }),
      }),
    );
    expect(await run.worker.exited).toBe(3);
    proxy.release();
    expect(
      run.worker
        .lines()
        .some((l) => l.message === 'lease lost: the partial file is left to the next attempt of the job, which reuses it'),
    ).toBe(true);
    expect((await fs.stat(run.tmpPath)).size).toBeGreaterThan(0);

    const owner = startWorker('bundle', run.key, next);
    expect(await owner.exited).toBe(0);

    expect(sha(await fs.readFile(run.finalPath))).toBe(sha(run.content));
    expect((await listDir(run.dir)).filter((f) => f.startsWith(run.name))).toEqual([`${run.name}.bin`]);
    await expectRecorded(run.key, run.content);
  });

  test('peak memory stays flat for a file many times larger than the buffers', async () => {
    const p = peer('sshd');
    const name = unique('big');
    const size = 192 * MiB;
    const handle = await fs.open(path.join(p.dir, `${name}.bin`), 'w');
    const block = randomBytes(MiB);
    for (let i = 0; i < size / MiB; i++) await handle.write(block);
    await handle.close();
    const { key, lease } = await runningJob(
      'SFTP_TO_S3',
      await sftpEndpoint(p),
      `${name}.bin`,
      await s3Endpoint(),
      `${name}.bin`,
    );

    // Live buffers: 2 x 4 MiB uploading + 1 filling, 64 x 255 KiB of SFTP reads: ~28 MiB. The
    // malloc setting is the container's (fargate-worker/runtime.ts).
    const worker = startWorker('bundle', key, lease, { ...WORKER_ENV, EFT_PART_CONCURRENCY: '2' });
    expect(await worker.exited).toBe(0);

    const exit = worker.lines().find((l) => l.message === 'worker exit') as { maxRssBytes: number };
    // Measured ~190 MiB: ~90 MiB of Node, the AWS SDK and ssh2 before any transfer, the buffers, and
    // buffers ssh2 allocates per packet awaiting the garbage collector. Holding the file would pass 280 MiB.
    expect(exit.maxRssBytes).toBeLessThan(240 * MiB);
    expect((await head(`files/${name}.bin`))?.ContentLength).toBe(size);
    await fs.rm(path.join(p.dir, `${name}.bin`));
    // 192 MiB through sshd, the worker and s3rver's JavaScript MD5: ~8 s on an idle 2-core machine,
    // several times that on a busy one. What it asserts (the peak) does not depend on how long it takes.
  }, 180_000);
});

// ---------------------------------------------------------------------------
// The temporary file at an SFTP target, across the attempts and jobs of a re-drive chain

describe('temporary files', () => {
  test('a delivery whose rename the partner refuses fails and removes its temporary file', async () => {
    const p = peer('norename');
    const name = unique('refused');
    const content = randomBytes(2 * MiB);
    await putSource(`files/${name}.bin`, content);
    // Validated before the partner forbade renames: the worker writes a .tmp and renames it.
    const target = await sftpEndpoint(p);
    const { key, lease } = await runningJob('S3_TO_SFTP', await s3Endpoint(), `${name}.bin`, target, `${name}.bin`);
    const tmpPath = path.join(p.dir, path.basename(temporaryPathFor(`${p.basePath}/${name}.bin`, key.jobId)));
    const s3c = controlledS3();
    const source = s3c.holdBodyAfter(content.length / 2);

    const transfer = runTransfer(deps(NO_STALL, s3c.client), key, lease);
    transfer.catch(() => undefined);
    await untilFileHasBytes(tmpPath); // the temporary file is there, half written
    source.release();
    await expect(transfer).rejects.toMatchObject({ code: expect.any(String) });

    expect((await listDir(p.dir)).filter((f) => f.startsWith(name))).toEqual([]);
    expect((await getJob(key)).lastError).toMatchObject({ code: expect.any(String) });
  });

  test('two re-drives of one job under different Idempotency-Keys run at once without sharing a temporary file', async () => {
    const p = peer('sshd');
    const name = unique('siblings');
    const content = randomBytes(2 * MiB);
    await putSource(`files/${name}.bin`, content);
    const original = await runningJob('S3_TO_SFTP', await s3Endpoint(), `${name}.bin`, await sftpEndpoint(p), `${name}.bin`);
    await stores.jobs.transition(original.key, 'FAILED', { ...ORIGIN, fence: original.lease, errorCode: 'X', errorMessage: 'x' });
    await stores.leases.release(original.lease);
    const [keyless, keyed] = [await redriveRunning(original.key), await redriveRunning(original.key, 'second-try')];
    expect(keyless.job.chainId).toBe(original.key.jobId);
    expect(keyed.job.chainId).toBeUndefined(); // a chain of its own
    const tmpOf = (run: RunningJob) =>
      path.join(p.dir, path.basename(temporaryPathFor(`${p.basePath}/${name}.bin`, run.job.chainId ?? run.key.jobId)));

    // Both half written at the same time, then both go on.
    const [s3a, s3b] = [controlledS3(), controlledS3()];
    const [holdA, holdB] = [s3a.holdBodyAfter(MiB), s3b.holdBodyAfter(MiB)];
    const a = runTransfer(deps(NO_STALL, s3a.client), keyless.key, keyless.lease);
    const b = runTransfer(deps(NO_STALL, s3b.client), keyed.key, keyed.lease);
    a.catch(() => undefined);
    b.catch(() => undefined);
    await Promise.all([untilFileHasBytes(tmpOf(keyless)), untilFileHasBytes(tmpOf(keyed))]);
    holdA.release();
    holdB.release();
    const results = (await Promise.all([a, b])).map((d) => d.result);

    // Exactly one delivery; the other found the same content there.
    expect(results.map((r) => r.alreadyPresent).sort()).toEqual([false, true]);
    expect(results.every((r) => r.sha256 === sha(content))).toBe(true);
    expect(sha(await fs.readFile(path.join(p.dir, `${name}.bin`)))).toBe(sha(content));
    expect((await listDir(p.dir)).filter((f) => f.startsWith(name))).toEqual([`${name}.bin`]);
  });

  test("a re-drive that finds the file delivered meanwhile removes the chain's leftover temporary file", async () => {
    const p = peer('sshd');
    const name = unique('present');
    const content = randomBytes(64 * KiB);
    await putSource(`files/${name}.bin`, content);
    const original = await runningJob('S3_TO_SFTP', await s3Endpoint(), `${name}.bin`, await sftpEndpoint(p), `${name}.bin`);
    // What a killed attempt left, and the file the partner got another way meanwhile.
    const tmpPath = path.join(p.dir, path.basename(temporaryPathFor(`${p.basePath}/${name}.bin`, original.key.jobId)));
    await fs.writeFile(tmpPath, content.subarray(0, 1000));
    await fs.writeFile(path.join(p.dir, `${name}.bin`), content);

    const redrive = await failAndRedrive(original.key, original.lease);
    const { result } = await runTransfer(deps(), redrive.key, redrive.lease);

    expect(result).toMatchObject({ alreadyPresent: true, sha256: sha(content) });
    expect((await listDir(p.dir)).filter((f) => f.startsWith(name))).toEqual([`${name}.bin`]);
  });
});
