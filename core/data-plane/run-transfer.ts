/**
 * The Fargate worker's job: one RUNNING transfer job, under the lease the
 * state machine took for it.
 *
 * Contract with the state machine:
 * - loads the job and both endpoints, resolves the paths on the endpoints,
 *   transfers through the endpoints' data-plane drivers (copyFile);
 * - on success records `{ result, bytesTransferred, bytesTotal }` (and the
 *   checkpoint) and hands the job to verification in the same conditional
 *   write (RUNNING → VERIFYING); the state machine's VerifyTransfer (or the
 *   batch) then checks the destination against `result`;
 * - on failure records `{ lastError: { code, message } }` (best effort) and
 *   throws; on loss of the lease (or the job leaving RUNNING) it stops at once
 *   and records nothing;
 * - a RUNNING job that already has a result is not transferred again.
 *
 * A copy is one hop when either endpoint keeps what is written durably (S3).
 * Between two that do not (SFTP→SFTP) it is staged through this region's
 * staging area (staging/<customer>/<job>/<name>), checkpointed as
 * `{ staged: { bucket, key, bytes, sha256, etag, versionId?, stagedAt } }`
 * after the first hop, so a retry whose staged copy is still there never
 * reads the source again, in either region: the other region reads the
 * replica in its own area (./staged-copy.ts). The copy read is deleted once
 * the result is recorded.
 */

import { posix } from 'node:path';
import type { Clock } from '../domain/clock';
import type { Drivers, EndpointDriver } from '../domain/drivers';
import type { Endpoint } from '../domain/endpoint';
import { BucketOwnerUnknownError, TransientError, VerificationError } from '../domain/errors';
import type { JobWork, TransferJob, TransferResult } from '../domain/job';
import type { LeaseToken } from '../domain/lease';
import type { Location } from '../domain/location';
import { resolveLocation } from '../domain/locations';
import { aboutJob, type Metrics, workerStarted } from '../domain/metrics';
import type { EndpointStore, JobKey, JobStore, LeaseStore } from '../domain/ports';
import { INTERRUPTED_EXIT, LeaseLostError, StoppedError, TransferError, toTransferError } from '../domain/transfer/errors';
import type { StagedFile, StagingArea, TransferIo } from '../domain/transfer/io';
import type { Logger } from '../observability/logger';
import type { WorkerConfig } from './config';
import { ConnectionScope } from './connections';
import { type CopyOutcome, copyFile, type ReportProgress } from './copy-file';
import { Liveness } from './liveness';
import { committingOnly, stagedCopyToReuse } from './staged-copy';

export interface WorkerDeps {
  jobs: JobStore;
  endpoints: EndpointStore;
  leases: LeaseStore;
  /** The data-plane driver of each endpoint type. */
  drivers: Drivers;
  /** This region's staging area (the engine's own), for copies between two endpoints that are not durable. */
  staging: StagingArea;
  clock: Clock;
  logger: Logger;
  config: WorkerConfig;
  region: string;
  /** Where the worker's measurements go, and when its process started (WorkerStartLatency); absent in tests. */
  metrics?: Metrics;
  processStartedAt?: number;
}

export interface RunOptions {
  /** Aborted with a StoppedError on SIGTERM. */
  signal?: AbortSignal;
  /** Connections shared with other jobs (a batch), which closes them; without it the job opens and closes its own. */
  connections?: ConnectionScope;
  /** The job as its claim just returned it (a batch), so it is not read again. */
  job?: TransferJob;
  /**
   * Ends the job with its delivery instead of handing it to verification (RUNNING → VERIFYING): a
   * batch verifies the destination and writes the result with SUCCEEDED at once (finishDelivery).
   */
  finish?: (job: TransferJob, work: JobWork & { result: TransferResult }) => Promise<TransferJob>;
}

/** Exit status of the worker process for an error thrown by runTransfer: 3 when the lease was lost, else 1. */
export function exitCodeFor(error: unknown): number {
  const transferError = toTransferError(error);
  if (transferError instanceof LeaseLostError) return INTERRUPTED_EXIT.leaseLost;
  if (transferError instanceof StoppedError) return INTERRUPTED_EXIT.stopped;
  return 1;
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
  if (!options.job && deps.processStartedAt) deps.metrics?.publish(workerStarted(job, deps.processStartedAt), aboutJob(job));
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
  const connections = options.connections ?? new ConnectionScope();
  const io: TransferIo = { signal: controller.signal, logger: deps.logger, tunables: deps.config, job: liveness, connections };
  try {
    await liveness.start();
    const progress: ReportProgress = (done, total) => liveness.progress(done, total);
    const { outcome, total, staged } = await runFlow(deps, io, job, progress, options.connections ? undefined : connections);
    const result: TransferResult = {
      bytes: outcome.bytes,
      sha256: outcome.sha256,
      ...(outcome.etag ? { etag: outcome.etag } : {}),
      ...(outcome.versionId ? { versionId: outcome.versionId } : {}),
      location: outcome.location,
      alreadyPresent: outcome.alreadyPresent,
    };
    liveness.closeProgress();
    const work = { result, bytesTransferred: total, bytesTotal: total, checkpoint: { ...liveness.checkpoint } };
    const finish = options.finish;
    const delivered = finish ? await liveness.finish(() => finish(job, work)) : await liveness.deliver(work);
    deps.logger.info('transfer recorded', {
      location: result.location,
      bytes: result.bytes,
      alreadyPresent: result.alreadyPresent,
    });
    if (staged) await deps.staging.remove(staged, deps.logger);
    return { result, job: delivered };
  } catch (err) {
    const reason = controller.signal.aborted ? controller.signal.reason : err;
    // A verification's failure (finish) keeps its code: VERIFICATION_FAILED, or TRANSIENT once retried enough.
    const error =
      reason instanceof VerificationError || reason instanceof TransientError
        ? new TransferError(reason.code, reason.message, { cause: reason })
        : toTransferError(reason);
    const message = connections.scrub(error.message);
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
    if (!options.connections) await connections.close();
  }
}

async function loadEndpoint(deps: WorkerDeps, job: TransferJob, endpointId: string, role: string): Promise<Endpoint> {
  const endpoint = await deps.endpoints.get(job.customerId, endpointId);
  if (!endpoint) throw new TransferError('ENDPOINT_MISSING', `the ${role} endpoint ${endpointId} does not exist`);
  return endpoint;
}

function locate(drivers: Drivers, endpoint: Endpoint, path: string, field: string): Location {
  try {
    return resolveLocation(drivers, endpoint, path, field);
  } catch (err) {
    const code = err instanceof BucketOwnerUnknownError ? err.code : 'INVALID_PATH';
    throw new TransferError(code, (err as Error).message, { cause: err });
  }
}

/** An endpoint, the location on it, and its driver. */
interface Side {
  endpoint: Endpoint;
  location: Location;
  driver: EndpointDriver;
}

function sideOf(deps: WorkerDeps, endpoint: Endpoint, path: string, field: string): Side {
  return { endpoint, location: locate(deps.drivers, endpoint, path, field), driver: deps.drivers.driverFor(endpoint) };
}

interface FlowOutcome {
  outcome: CopyOutcome;
  /** bytesTotal of the job (the file's size). */
  total: number;
  staged?: StagedFile;
}

/** `ownConnections`: the job's own, closed between the hops of a staged copy so the source's session does not idle through the second. */
async function runFlow(
  deps: WorkerDeps,
  io: TransferIo,
  job: TransferJob,
  progress: ReportProgress,
  ownConnections: ConnectionScope | undefined,
): Promise<FlowOutcome> {
  const sourceEndpoint = await loadEndpoint(deps, job, job.sourceEndpointId, 'source');
  const targetEndpoint = await loadEndpoint(deps, job, job.targetEndpointId, 'target');
  const from = sideOf(deps, sourceEndpoint, job.sourcePath, 'sourcePath');
  const to = sideOf(deps, targetEndpoint, job.targetPath, 'targetPath');
  const openSource = () => from.driver.openSource(from.endpoint, from.location, io);
  // The job's createDirectories (absent: true) reaches the target: a missing folder is created unless it is false.
  // The temporary name is the re-drive chain's: a re-drive reuses what a killed attempt of the chain left.
  const openTarget = () =>
    to.driver.openTarget(to.endpoint, to.location, io, {
      chainId: job.chainId ?? job.jobId,
      retried: job.chainId !== undefined || job.attempts > 1,
      createDirectories: job.createDirectories !== false,
    });
  if (from.driver.durable || to.driver.durable) {
    const outcome = await copyFile(io, openSource(), openTarget(), progress);
    return { outcome, total: outcome.bytes };
  }

  const recorded = io.job.checkpoint.staged as StagedFile | undefined;
  let staged = recorded && (await stagedCopyToReuse(deps, io, job, recorded));
  if (!staged) {
    const key = stagingKeyFor(job, job.sourcePath);
    // Progress counts both hops, each half of the file's size.
    const first = await copyFile(io, openSource(), deps.staging.target(key, io), (done, total) =>
      progress(Math.floor(done / 2), total),
    );
    await ownConnections?.close();
    staged = deps.staging.record(key, first, new Date(deps.clock.now()).toISOString());
    await io.job.saveCheckpoint({ staged });
  }
  const half = Math.floor(staged.bytes / 2);
  const outcome = await copyFile(
    io,
    deps.staging.source(staged, io),
    committingOnly(openTarget(), staged.sha256),
    (done, total) => progress(half + Math.floor(done / 2), total),
  );
  return { outcome, total: outcome.bytes, staged };
}
