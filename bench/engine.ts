/**
 * The local engine for the scenarios that need it: startLocalStack (dynalite,
 * s3rver, both regions' APIs with local Step Functions), the customer's
 * endpoints onboarded over the REST API (the OpenSSH sshd as the partner's
 * SFTP server, the emulator's buckets as the customer's S3), and jobs made
 * RUNNING under a lease exactly as the state machine's StartTransfer task
 * leaves them for the worker.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DeleteObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startTransfer, verifyTransfer } from '../core/control-plane/orchestration/orchestration';
import type { FlowType, TransferJob } from '../core/domain/job';
import type { LeaseToken } from '../core/domain/lease';
import type { JobKey } from '../core/domain/ports';
import { buildOrchestration, buildStores, type Stores } from '../core/runtime/wiring';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../fargate-worker/runtime';
import { ApiClient } from '../local/api-client';
import { customerS3Client } from '../local/s3';
import { type LocalStack, REGIONS, startLocalStack } from '../local/stack';
import type { Sshd } from '../tests/support/sshd';
import { findChildren } from './proc';

export const CUSTOMER = 'customer-a';
/** The emulator bucket standing in for the customer's own S3. */
export const BUCKET = 'customer-a-inbox';
/** customer-a's account, which owns its buckets (local/stack.ts). */
export const BUCKET_OWNER = '111111111111';
export const S3_PREFIX = 'bench/';

export interface Engine {
  stack: LocalStack;
  api: ApiClient;
  stores: Stores;
  s3: S3Client;
  /** The environment the region's functions and workers get. */
  env: Record<string, string>;
  s3Pid: number;
  /** The partner's SFTP server (the OpenSSH sshd), basePath = the sshd data directory. */
  sftpEndpointId: string;
  /** The customer's bucket, prefix bench/. */
  s3EndpointId: string;
  close(): Promise<void>;
}

async function onboard(api: ApiClient, body: Record<string, unknown>): Promise<string> {
  const created = await api.post('/endpoints', body);
  if (created.status !== 201) throw new Error(`POST /endpoints: ${created.status} ${created.text}`);
  const id = created.body.id as string;
  const validated = await api.post(`/endpoints/${id}/validate`);
  if (validated.body?.endpoint?.status !== 'ACTIVE') throw new Error(`endpoint ${body.name} did not validate: ${validated.text}`);
  return id;
}

export interface EngineOptions {
  /**
   * The local schedule tick in seconds (startLocalStack's scheduleTickSeconds; SCHEDULE_MIN_RATE_SECONDS
   * follows it). Absent: the declared rate (one tick a minute), as for the scenarios without schedules.
   */
  scheduleTickSeconds?: number;
}

export async function startEngine(stateDir: string, sshd: Sshd, basePath: string, options: EngineOptions = {}): Promise<Engine> {
  // The region processes are eft processes too: they get the same diagnostics (--cpu-prof, --eft-node-arg).
  const stack = await startLocalStack({
    stateDir,
    regionNodeArgs: extraNodeArgs,
    ...(options.scheduleTickSeconds !== undefined ? { scheduleTickSeconds: options.scheduleTickSeconds } : {}),
  });
  try {
    const region = REGIONS.west;
    const env = stack.info.regions[region]?.environment ?? {};
    const customer = stack.info.customers.find((c) => c.customerId === CUSTOMER);
    if (!customer) throw new Error(`no demo customer ${CUSTOMER}`);
    const api = new ApiClient(stack.info.apis[region] ?? '', region, customer);
    const sftpEndpointId = await onboard(api, {
      type: 'SFTP',
      name: 'bench partner (OpenSSH sshd)',
      direction: 'BOTH',
      maxConcurrency: 64,
      sftp: { host: sshd.host, port: sshd.port, username: sshd.username, basePath, hostKeyFingerprint: sshd.hostKeyFingerprint },
      credentials: { privateKey: sshd.privateKey },
    });
    const s3EndpointId = await onboard(api, {
      type: 'S3',
      name: 'bench customer bucket',
      direction: 'BOTH',
      maxConcurrency: 64,
      s3: { bucket: BUCKET, prefix: S3_PREFIX, region },
    });
    const s3Pid = findChildren(process.pid, 's3-process.cjs')[0];
    if (!s3Pid) throw new Error('cannot find the S3 emulator process');
    // The bench acts as the customer on its own bucket.
    const s3 = customerS3Client(stack.info.s3.endpoint, region);
    return {
      stack,
      api,
      stores: buildStores(env),
      s3,
      env,
      s3Pid,
      sftpEndpointId,
      s3EndpointId,
      close: async () => {
        s3.destroy();
        await stack.close();
      },
    };
  } catch (error) {
    await stack.close();
    throw error;
  }
}

export interface RunningJob {
  key: JobKey;
  lease: LeaseToken;
  job: TransferJob;
}

/**
 * A job persisted and taken RUNNING under the partition lease by the state
 * machine's own first task (startTransfer), as the worker finds it.
 */
export async function runningJob(
  engine: Engine,
  flowType: FlowType,
  source: { endpointId: string; path: string },
  target: { endpointId: string; path: string },
): Promise<RunningJob> {
  const origin = { actor: 'bench', region: engine.stores.region };
  const { job } = await engine.stores.jobs.create(
    {
      customerId: CUSTOMER,
      flowType,
      sourceEndpointId: source.endpointId,
      sourcePath: source.path,
      targetEndpointId: target.endpointId,
      targetPath: target.path,
      idempotencyKey: `bench-${randomUUID()}`,
    },
    origin,
  );
  const executionId = `arn:aws-us-gov:states:${engine.stores.region}:000000000000:execution:bench:${job.jobId}`;
  const started = await startTransfer(orchestration(engine), { customerId: CUSTOMER, jobId: job.jobId, executionId });
  if (started.action !== 'RUN') throw new Error(`the job did not start: ${JSON.stringify(started)}`);
  return { key: { customerId: CUSTOMER, jobId: job.jobId }, lease: started.lease, job };
}

let orchestrationDeps: ReturnType<typeof buildOrchestration> | undefined;
function orchestration(engine: Engine) {
  orchestrationDeps ??= buildOrchestration(engine.env);
  return orchestrationDeps;
}

/** The state machine's VerifyTransfer and ReleaseLease tasks: the destination must hold what the worker reported. */
export async function verifyAndRelease(engine: Engine, running: RunningJob): Promise<TransferJob> {
  const deps = orchestration(engine);
  const job = await verifyTransfer(deps, { ...running.key, lease: running.lease });
  await deps.leases.release(running.lease).catch(() => undefined);
  return job;
}

let extraNodeArgs: string[] = [];

/** Diagnostics for every eft process the bench runs: --cpu-prof DIR, --eft-node-arg ARG. */
export function setEftDiagnostics(options: { cpuProfDir?: string; nodeArgs: string[] }): void {
  extraNodeArgs = [...(options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : []), ...options.nodeArgs];
}

/** Node's flags for an eft process: the container's (fargate-worker/runtime.ts), plus any diagnostics asked for. */
export function eftNodeArgs(): string[] {
  return [...WORKER_NODE_FLAGS, ...extraNodeArgs];
}

/** The environment the container gives the worker (fargate-worker/runtime.ts). */
export const CONTAINER_ENV = WORKER_ENV;

/** The worker bundle's command line and environment for a job, as the container and ECS RunTask give them. */
export function workerCommand(engine: Engine, workerBundle: string, running: RunningJob) {
  return {
    command: process.execPath,
    args: [...eftNodeArgs(), workerBundle],
    env: {
      PATH: process.env.PATH ?? '',
      ...CONTAINER_ENV,
      ...engine.env,
      EFT_JOB: JSON.stringify(running.key),
      EFT_LEASE: JSON.stringify(running.lease),
    },
  };
}

export async function deleteObject(engine: Engine, key: string): Promise<void> {
  await engine.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key })).catch(() => undefined);
}

export async function objectSize(engine: Engine, key: string): Promise<number | undefined> {
  try {
    return (await engine.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ContentLength;
  } catch {
    return undefined;
  }
}

export const stateDirOf = (workDir: string) => join(workDir, 'engine');
