import type { Endpoint } from '../domain/endpoint';
import { NotFoundError, StaleOwnerError, TransientError, VerificationError } from '../domain/errors';
import { type FlowType, isTerminal, type TransferJob, type TransferResult } from '../domain/job';
import { type LeaseToken, tokenOf } from '../domain/lease';
import type { EndpointStore, JobKey, JobStore, LeaseStore } from '../domain/ports';
import { withLeaseHeartbeat } from './heartbeat';
import { type Location, resolveLocation } from './locations';
import { copyS3Object, type S3CopyDeps } from './s3-copy';

/** What the state machine tasks share: the stores, this region, and the lease TTL. */
export interface OrchestrationDeps {
  jobs: JobStore;
  endpoints: EndpointStore;
  leases: LeaseStore;
  region: string;
  leaseTtlMs: number;
}

const ACTOR = 'step-functions';

export type StartResult =
  | { action: 'SKIP'; customerId: string; jobId: string; reason: string }
  | { action: 'RUN' | 'VERIFY'; customerId: string; jobId: string; flowType: FlowType; lease: LeaseToken; job: JobKey };

async function loadJob(jobs: JobStore, key: JobKey): Promise<TransferJob> {
  const job = await jobs.get(key);
  if (!job) throw new NotFoundError(`job ${key.jobId} not found`);
  return job;
}

/**
 * First task of an execution: take the partition lease for this region and
 * move the job to RUNNING under its epoch. A job that is already terminal
 * (cancelled, or finished by the other region) is skipped, never run twice.
 * A job left RUNNING by an execution that stopped is resumed under the new epoch.
 */
export async function startTransfer(deps: OrchestrationDeps, input: JobKey & { executionId: string }): Promise<StartResult> {
  const key = { customerId: input.customerId, jobId: input.jobId };
  let job = await loadJob(deps.jobs, key);
  if (isTerminal(job.status)) return { action: 'SKIP', ...key, reason: `job is already ${job.status}` };
  const lease = await deps.leases.acquire(
    job.partitionId,
    { executionId: input.executionId, region: deps.region },
    deps.leaseTtlMs,
  );
  const fence = tokenOf(lease, input.executionId);
  const origin = { actor: ACTOR, region: deps.region, fence };
  if (job.status === 'RECEIVED') job = await deps.jobs.transition(key, 'QUEUED', origin);
  if (job.status === 'QUEUED') job = await deps.jobs.transition(key, 'RUNNING', origin);
  else if (job.status === 'RUNNING') job = await deps.jobs.resume(key, fence, ACTOR);
  return { action: job.status === 'VERIFYING' ? 'VERIFY' : 'RUN', ...key, flowType: job.flowType, lease: fence, job: key };
}

/** Looks at what the destination holds now. */
export interface DestinationInspector {
  inspect(endpoint: Endpoint, location: Location): Promise<{ bytes: number; etag?: string } | undefined>;
}

/** RUNNING → VERIFYING → SUCCEEDED, only if the destination holds what the data plane reported. */
export async function verifyTransfer(
  deps: OrchestrationDeps & { inspector: DestinationInspector },
  input: JobKey & { lease: LeaseToken },
): Promise<TransferJob> {
  const key = { customerId: input.customerId, jobId: input.jobId };
  let job = await loadJob(deps.jobs, key);
  const origin = { actor: ACTOR, region: deps.region, fence: input.lease };
  if (job.status === 'RUNNING') job = await deps.jobs.transition(key, 'VERIFYING', origin);
  const result = job.result;
  if (!result) throw new VerificationError(`job ${job.jobId} has no delivery result to verify`);
  const target = await deps.endpoints.get(job.customerId, job.targetEndpointId);
  if (!target) throw new NotFoundError(`target endpoint ${job.targetEndpointId} not found`);
  const found = await deps.inspector.inspect(target, resolveLocation(target, job.targetPath, 'targetPath'));
  const problem = mismatch(result, found);
  if (problem) throw new VerificationError(`${result.location}: ${problem}`);
  return deps.jobs.transition(key, 'SUCCEEDED', origin);
}

function mismatch(expected: TransferResult, found: { bytes: number; etag?: string } | undefined): string | undefined {
  if (!found) return 'nothing is there';
  if (found.bytes !== expected.bytes) return `holds ${found.bytes} bytes, ${expected.bytes} were delivered`;
  if (expected.etag && found.etag && found.etag !== expected.etag)
    return `ETag ${found.etag} differs from the delivered ${expected.etag}`;
  return undefined;
}

/** The error a failed state hands on (`Catch` → ResultPath $.error). */
export interface StateError {
  Error: string;
  Cause?: string;
}

/**
 * Marks the job FAILED with the most precise reason available (what the data
 * plane recorded, else the failed state's error) and releases the lease. If
 * another region has taken the job over (newer epoch), it is left to that region.
 */
export async function failTransfer(
  deps: OrchestrationDeps,
  input: JobKey & { lease?: LeaseToken; error?: StateError },
): Promise<{ failed: boolean }> {
  const key = { customerId: input.customerId, jobId: input.jobId };
  const job = await deps.jobs.get(key);
  let failed = false;
  // Without a lease this execution never started the job: a RUNNING or VERIFYING job
  // belongs to whoever holds the lease (perhaps the other region), not to us.
  const ours = input.lease !== undefined || job?.status === 'RECEIVED' || job?.status === 'QUEUED';
  if (job && !isTerminal(job.status) && ours) {
    const errorCode = job.lastError?.code ?? codeOf(input.error);
    const errorMessage = job.lastError?.message ?? messageOf(input.error);
    try {
      await deps.jobs.transition(key, 'FAILED', {
        actor: ACTOR,
        region: deps.region,
        errorCode,
        errorMessage,
        ...(input.lease ? { fence: input.lease } : {}),
      });
      failed = true;
    } catch (error) {
      if (!(error instanceof StaleOwnerError)) throw error;
    }
  }
  if (input.lease)
    await deps.leases.release(input.lease).catch((error) => {
      if (!(error instanceof StaleOwnerError)) throw error;
    });
  return { failed };
}

/** Error names of the engine become reason codes (LeaseHeldError → LEASE_HELD); AWS ones pass through. */
function codeOf(error: StateError | undefined): string {
  const name = error?.Error ?? 'UNKNOWN';
  if (name === 'States.TaskFailed') return 'WORKER_FAILED';
  if (name === 'States.Timeout') return 'TIMEOUT';
  return name
    .replace(/Error$/, '')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .toUpperCase();
}

/** Lambda puts {errorMessage, errorType} JSON in Cause; the local interpreter the plain message. */
function messageOf(error: StateError | undefined): string {
  if (!error?.Cause) return error?.Error ?? 'the transfer failed';
  try {
    const cause = JSON.parse(error.Cause) as { errorMessage?: string };
    return cause.errorMessage ?? error.Cause;
  } catch {
    return error.Cause;
  }
}

/**
 * The S3→S3 task: resolves the job's locations and runs the server-side copy
 * while heartbeating the lease. S3 throttling and 5xx become TransientError,
 * which the state machine retries (the copy resumes from its checkpoint).
 */
export async function runS3Copy(
  deps: OrchestrationDeps & { s3: S3CopyDeps['s3']; copyConfig: S3CopyDeps['config'] },
  input: JobKey & { lease: LeaseToken },
): Promise<TransferResult> {
  const job = await loadJob(deps.jobs, input);
  const [source, target] = await Promise.all([
    deps.endpoints.get(job.customerId, job.sourceEndpointId),
    deps.endpoints.get(job.customerId, job.targetEndpointId),
  ]);
  if (!source || !target) throw new NotFoundError(`job ${job.jobId} refers to an endpoint that no longer exists`);
  const from = resolveLocation(source, job.sourcePath, 'sourcePath');
  const to = resolveLocation(target, job.targetPath, 'targetPath');
  if (from.kind !== 's3' || to.kind !== 's3') throw new Error(`job ${job.jobId} is not an S3→S3 transfer`);
  try {
    return await withLeaseHeartbeat(deps.leases, input.lease, deps.leaseTtlMs, (_signal, renewLease) =>
      copyS3Object(
        { s3: deps.s3, jobs: deps.jobs, config: deps.copyConfig, renewLease },
        {
          job,
          lease: input.lease,
          source: { bucket: from.bucket, key: from.key },
          target: { bucket: to.bucket, key: to.key, ...(to.kmsKeyId ? { kmsKeyId: to.kmsKeyId } : {}) },
        },
      ),
    );
  } catch (error) {
    throw isTransientAwsError(error) ? new TransientError((error as Error).message) : error;
  }
}

/** Throttling, 5xx and network trouble from the AWS SDK: worth another attempt. */
function isTransientAwsError(error: unknown): boolean {
  const e = error as { $retryable?: unknown; $metadata?: { httpStatusCode?: number }; name?: string; code?: string };
  const status = e?.$metadata?.httpStatusCode ?? 0;
  return (
    Boolean(e?.$retryable) || status >= 500 || status === 429 || ['ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(e?.code ?? '')
  );
}
