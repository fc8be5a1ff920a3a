/**
 * The Fargate worker's job: one RUNNING transfer job, under the lease the
 * state machine took for it.
 *
 * Contract with the state machine:
 * - loads the job and both endpoints, reads SFTP credentials from the secret
 *   store, resolves the paths on the endpoints, transfers;
 * - on success records `{ result, bytesTransferred, bytesTotal }` (and the
 *   checkpoint) and hands the job to verification in the same conditional
 *   write (RUNNING → VERIFYING); the state machine's VerifyTransfer (or the
 *   batch) then checks the destination against `result`;
 * - on failure records `{ lastError: { code, message } }` (best effort) and
 *   throws; on loss of the lease (or the job leaving RUNNING) it stops at once
 *   and records nothing;
 * - a RUNNING job that already has a result is not transferred again.
 *
 * Flows: SFTP_TO_S3 and S3_TO_SFTP are one hop each; SFTP_TO_SFTP stages
 * through this region's staging bucket (staging/<customer>/<job>/<name>) and
 * checkpoints `{ staged: { bucket, key, bytes, sha256, etag } }` after the first
 * hop, so a retry whose staged object is still there never reads the source
 * again. The staged object is deleted once the result is recorded.
 */

import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DriverRegistry } from '../adapters/drivers';
import type { NetworkPolicy } from '../adapters/net/network-policy';
import { bucketOf } from '../adapters/s3/bucket-owner';
import { S3Driver } from '../adapters/s3/driver';
import type { S3ObjectLocation } from '../adapters/s3/location';
import { SftpDriver } from '../adapters/sftp/driver';
import type { SftpEndpoint, SftpPathLocation } from '../adapters/sftp/location';
import { resolveLocation } from '../control-plane/transfers/locations';
import type { Clock } from '../domain/clock';
import type { Drivers } from '../domain/drivers';
import type { Endpoint, SftpCapabilities } from '../domain/endpoint';
import { BucketOwnerUnknownError } from '../domain/errors';
import type { FlowType, TransferJob, TransferResult } from '../domain/job';
import type { LeaseToken } from '../domain/lease';
import type { Location } from '../domain/location';
import type { EndpointStore, JobKey, JobStore, LeaseStore } from '../domain/ports';
import type { SecretStore } from '../domain/secrets';
import { LeaseLostError, TransferError, toTransferError } from '../domain/transfer/errors';
import type { Logger } from '../observability/logger';
import type { WorkerConfig } from './config';
import type { HopContext } from './context';
import { Liveness } from './liveness';
import { headObject, type S3ObjectRef } from './s3-objects';
import { copyS3ToSftp } from './s3-to-sftp';
import { type ConnectorPool, type OpenSftpSession, SftpConnector } from './sftp-endpoint';
import { copySftpToS3, type HopOutcome } from './sftp-to-s3';

export interface WorkerDeps {
  jobs: JobStore;
  endpoints: EndpointStore;
  leases: LeaseStore;
  secrets: SecretStore;
  /** The S3 client for a bucket's region (the worker's own region for staging). */
  s3: (region: string) => S3Client;
  openSftp: OpenSftpSession;
  networkPolicy: NetworkPolicy;
  clock: Clock;
  logger: Logger;
  config: WorkerConfig;
  /** This region's staging bucket (the engine's account owns it), for SFTP→SFTP jobs. */
  staging: { bucket: string; owner: string };
  region: string;
}

export interface RunOptions {
  /** Aborted with a StoppedError on SIGTERM. */
  signal?: AbortSignal;
  /** SFTP sessions shared with other jobs (a batch); without it the job opens and closes its own. */
  pool?: ConnectorPool;
  /** The job as its claim just returned it (a batch), so it is not read again. */
  job?: TransferJob;
}

export interface StagedObject {
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
  etag: string;
}

const SFTP_TYPES = new Set(['SFTP', 'TRANSFER_FAMILY_SFTP']);

/** Exit status of the worker process for an error thrown by runTransfer: 3 when the lease was lost, else 1. */
export function exitCodeFor(error: unknown): number {
  return toTransferError(error) instanceof LeaseLostError ? 3 : 1;
}

/** The temporary name next to the final one: per job, the same for every attempt of the job. */
export function temporaryPathFor(finalPath: string, jobId: string): string {
  return `${finalPath}.eft-${createHash('sha256').update(jobId).digest('hex').slice(0, 12)}.tmp`;
}

export function stagingKeyFor(job: JobKey, sourcePath: string): string {
  return `staging/${job.customerId}/${job.jobId}/${posix.basename(sourcePath)}`;
}

/** What the transfer delivered, and the job as its last write left it. */
export interface Delivery {
  result: TransferResult;
  job: TransferJob;
}

export async function runTransfer(deps: WorkerDeps, key: JobKey, lease: LeaseToken, options: RunOptions = {}): Promise<Delivery> {
  const job = options.job ?? (await deps.jobs.get(key));
  if (!job) throw new TransferError('JOB_NOT_FOUND', `job ${key.jobId} of customer ${key.customerId} does not exist`);
  if (job.status !== 'RUNNING') {
    throw new LeaseLostError(`job ${key.jobId} is ${job.status}, not RUNNING: nothing to do under this lease`);
  }
  if (job.result) {
    deps.logger.info('the job already has a result; nothing to transfer', { location: job.result.location });
    return { result: job.result, job };
  }

  // One signal for everything that must stop the transfer: SIGTERM from outside, lease loss from inside.
  const controller = new AbortController();
  const outer = options.signal;
  const forward = () => controller.abort(outer?.reason);
  if (outer?.aborted) forward();
  else outer?.addEventListener('abort', forward, { once: true });
  const liveness = new Liveness(
    deps,
    key,
    lease,
    deps.config,
    (lost) => {
      deps.logger.error('lease lost: aborting the transfer', { error: lost.message });
      controller.abort(lost);
    },
    job.checkpoint,
  );
  const ctx: HopContext = { config: deps.config, signal: controller.signal, logger: deps.logger, liveness };
  const connectors: SftpConnector[] = [];
  try {
    await liveness.start();
    const { outcome, total, staged } = await runFlow(deps, ctx, job, connectors, options.pool);
    const result: TransferResult = {
      bytes: outcome.bytes,
      sha256: outcome.sha256,
      ...(outcome.etag ? { etag: outcome.etag } : {}),
      ...(outcome.versionId ? { versionId: outcome.versionId } : {}),
      location: outcome.location,
      alreadyPresent: outcome.alreadyPresent,
    };
    liveness.closeProgress();
    const delivered = await liveness.deliver({
      result,
      bytesTransferred: total,
      bytesTotal: total,
      checkpoint: { ...liveness.checkpoint },
    });
    deps.logger.info('transfer recorded', {
      location: result.location,
      bytes: result.bytes,
      alreadyPresent: result.alreadyPresent,
    });
    if (staged) await removeStaged(deps, staged);
    return { result, job: delivered };
  } catch (err) {
    const reason = controller.signal.aborted ? controller.signal.reason : err;
    const error = toTransferError(reason);
    const message = connectors.reduce((text, c) => c.scrub(text), options.pool?.scrub(error.message) ?? error.message);
    liveness.closeProgress();
    if (!(error instanceof LeaseLostError)) {
      deps.logger.error('transfer failed', { code: error.code, error: message });
      await liveness.record({ lastError: { code: error.code, message } }).catch((e: unknown) => {
        deps.logger.warn('the failure could not be recorded on the job', { error: toTransferError(e).message });
      });
    }
    throw error;
  } finally {
    outer?.removeEventListener('abort', forward);
    await liveness.stop();
    await Promise.all(connectors.map((c) => c.reset()));
  }
}

async function loadEndpoint(deps: WorkerDeps, job: TransferJob, endpointId: string, role: string): Promise<Endpoint> {
  const endpoint = await deps.endpoints.get(job.customerId, endpointId);
  if (!endpoint) throw new TransferError('ENDPOINT_MISSING', `the ${role} endpoint ${endpointId} does not exist`);
  return endpoint;
}

function expectType(endpoint: Endpoint, kind: 'SFTP' | 'S3', role: string, flow: FlowType): void {
  const ok = kind === 'S3' ? endpoint.type === 'S3' : SFTP_TYPES.has(endpoint.type);
  if (!ok) {
    throw new TransferError(
      'FLOW_MISMATCH',
      `a ${flow} job needs an ${kind} ${role} endpoint; ${endpoint.endpointId} is ${endpoint.type}`,
    );
  }
}

/** Until the worker gets its drivers injected (the data-plane half of issue 13): the drivers built from its deps. */
export function workerDrivers(deps: WorkerDeps): Drivers {
  const { secrets, networkPolicy, openSftp } = deps;
  return new DriverRegistry([new S3Driver({ s3: deps.s3 }), new SftpDriver({ secrets, networkPolicy, openSftp })]);
}

function locate(deps: WorkerDeps, endpoint: Endpoint, path: string, field: string): Location {
  try {
    return resolveLocation(workerDrivers(deps), endpoint, path, field);
  } catch (err) {
    const code = err instanceof BucketOwnerUnknownError ? err.code : 'INVALID_PATH';
    throw new TransferError(code, (err as Error).message, { cause: err });
  }
}

function s3Of(location: Location): S3ObjectLocation {
  if (location.kind !== 's3') throw new TransferError('FLOW_MISMATCH', 'expected an S3 location');
  return location as S3ObjectLocation;
}

function sftpOf(location: Location): string {
  if (location.kind !== 'sftp') throw new TransferError('FLOW_MISMATCH', 'expected an SFTP location');
  return (location as SftpPathLocation).path;
}

interface FlowOutcome {
  outcome: HopOutcome;
  /** bytesTotal of the job (the file's size). */
  total: number;
  staged?: StagedObject;
}

async function runFlow(
  deps: WorkerDeps,
  ctx: HopContext,
  job: TransferJob,
  connectors: SftpConnector[],
  pool: ConnectorPool | undefined,
): Promise<FlowOutcome> {
  const flow = job.flowType;
  const sourceEndpoint = await loadEndpoint(deps, job, job.sourceEndpointId, 'source');
  const targetEndpoint = await loadEndpoint(deps, job, job.targetEndpointId, 'target');
  const source = locate(deps, sourceEndpoint, job.sourcePath, 'sourcePath');
  const target = locate(deps, targetEndpoint, job.targetPath, 'targetPath');
  const sftpDeps = {
    secrets: deps.secrets,
    openSftp: deps.openSftp,
    networkPolicy: deps.networkPolicy,
    connectTimeoutMs: deps.config.connectTimeoutMs,
  };
  // Connectors this job opens are closed when it ends (`connectors`); a pool's outlive it.
  const connect = (endpoint: Endpoint) => {
    if (pool) return pool.connectorFor(endpoint);
    const connector = new SftpConnector(sftpDeps, endpoint);
    connectors.push(connector);
    return connector;
  };
  const progress = (done: number, total: number) => ctx.liveness.progress(done, total);

  switch (flow) {
    case 'SFTP_TO_S3': {
      expectType(sourceEndpoint, 'SFTP', 'source', flow);
      expectType(targetEndpoint, 'S3', 'target', flow);
      const to = s3Of(target);
      const outcome = await copySftpToS3(
        ctx,
        { connector: connect(sourceEndpoint), path: sftpOf(source) },
        {
          s3: deps.s3(to.region),
          bucket: to.bucket,
          owner: to.owner,
          key: to.key,
          ...(to.kmsKeyId ? { kmsKeyId: to.kmsKeyId } : {}),
          mustNotExist: true,
        },
        progress,
      );
      return { outcome, total: outcome.bytes };
    }
    case 'S3_TO_SFTP': {
      expectType(sourceEndpoint, 'S3', 'source', flow);
      expectType(targetEndpoint, 'SFTP', 'target', flow);
      const from = s3Of(source);
      const path = sftpOf(target);
      const outcome = await copyS3ToSftp(
        ctx,
        { s3: deps.s3(from.region), bucket: from.bucket, owner: from.owner, key: from.key },
        targetSpec(connect(targetEndpoint), path, job, (targetEndpoint as SftpEndpoint).capabilities),
        progress,
      );
      return { outcome, total: outcome.bytes };
    }
    case 'SFTP_TO_SFTP': {
      expectType(sourceEndpoint, 'SFTP', 'source', flow);
      expectType(targetEndpoint, 'SFTP', 'target', flow);
      const staging = deps.s3(deps.region);
      const sourcePath = sftpOf(source);
      let staged = await stagedCopy(ctx, staging, deps, ctx.liveness.checkpoint.staged as StagedObject | undefined);
      if (staged) {
        deps.logger.info('reusing the staged copy; the source is not read again', { key: staged.key, bytes: staged.bytes });
      } else {
        const sourceConnector = connect(sourceEndpoint);
        const key = stagingKeyFor(job, sourcePath);
        // Progress counts both hops, each half of the file's size.
        const first = await copySftpToS3(
          ctx,
          { connector: sourceConnector, path: sourcePath },
          { s3: staging, ...deps.staging, key, mustNotExist: false },
          (done, total) => progress(Math.floor(done / 2), total),
        );
        if (!pool) await sourceConnector.reset();
        if (!first.etag)
          throw new TransferError('S3_FAILURE', `S3 returned no ETag for the staged copy s3://${deps.staging.bucket}/${key}`);
        staged = { bucket: deps.staging.bucket, key, bytes: first.bytes, sha256: first.sha256, etag: first.etag };
        await ctx.liveness.saveCheckpoint({ staged });
      }
      const half = Math.floor(staged.bytes / 2);
      const outcome = await copyS3ToSftp(
        ctx,
        { s3: staging, ...stagedRef(deps, staged), knownSha256: staged.sha256 },
        targetSpec(connect(targetEndpoint), sftpOf(target), job, (targetEndpoint as SftpEndpoint).capabilities),
        (done, total) => progress(half + Math.floor(done / 2), total),
      );
      if (outcome.sha256 !== staged.sha256 && !outcome.alreadyPresent) {
        throw new TransferError('CONTENT_MISMATCH', 'the staged copy changed between the two hops');
      }
      return { outcome, total: outcome.bytes, staged };
    }
    default:
      throw new TransferError('FLOW_MISMATCH', `the worker does not run ${flow} jobs`);
  }
}

function targetSpec(connector: SftpConnector, path: string, job: TransferJob, capabilities?: SftpCapabilities) {
  return { connector, path, tmpPath: temporaryPathFor(path, job.jobId), ...(capabilities ? { capabilities } : {}) };
}

/** A staged object is in this region's staging bucket, which the engine's own account owns. */
function stagedRef(deps: WorkerDeps, staged: StagedObject): S3ObjectRef {
  return { bucket: staged.bucket, key: staged.key, owner: deps.staging.owner };
}

/** The checkpointed staged copy, if it is still there unchanged (same size and ETag). */
async function stagedCopy(
  ctx: HopContext,
  s3: S3Client,
  deps: WorkerDeps,
  staged: StagedObject | undefined,
): Promise<StagedObject | undefined> {
  if (!staged) return undefined;
  const head = await headObject(s3, stagedRef(deps, staged), ctx.signal);
  return head && head.ContentLength === staged.bytes && head.ETag === staged.etag ? staged : undefined;
}

/** The staged copy is not needed once the result is recorded (the bucket's lifecycle rule is the backstop). */
async function removeStaged(deps: WorkerDeps, staged: StagedObject): Promise<void> {
  await deps
    .s3(deps.region)
    .send(new DeleteObjectCommand({ ...bucketOf(stagedRef(deps, staged)), Key: staged.key }))
    .catch((err: unknown) =>
      deps.logger.warn('the staged copy was not removed', { key: staged.key, error: toTransferError(err).message }),
    );
}
