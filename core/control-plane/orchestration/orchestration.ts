import { type Drivers, isServerSideCopy, type ServerSideCopyRun } from '../../domain/drivers';
import type { Endpoint } from '../../domain/endpoint';
import { isErrorCode } from '../../domain/error-codes';
import { IllegalTransitionError, NotFoundError, StaleOwnerError, TransientError, VerificationError } from '../../domain/errors';
import {
  contentSha256,
  type FlowType,
  isTerminal,
  type JobWork,
  type ObjectChecksum,
  type TransferJob,
  type TransferResult,
} from '../../domain/job';
import { type LeaseToken, tokenOf } from '../../domain/lease';
import { resolveLocation } from '../../domain/locations';
import type { BatchInput, DestinationState, EndpointPair, EndpointStore, JobKey, JobStore, LeaseStore } from '../../domain/ports';
import { INTERRUPTED_EXIT } from '../../domain/transfer/errors';
import type { Connections } from '../../domain/transfer/io';
import { withLeaseHeartbeat } from './heartbeat';

/** What the state machine tasks share: the stores, the endpoint drivers, this region, and the lease TTL. */
export interface OrchestrationDeps {
  jobs: JobStore;
  endpoints: EndpointStore;
  leases: LeaseStore;
  drivers: Drivers;
  region: string;
  leaseTtlMs: number;
  /**
   * How long a worker may take to start (a Fargate task: about a minute; longer when capacity is short)
   * before its first renewal. An execution takes the lease for TTL + this, so a lease that expires
   * before a slow worker's first heartbeat does not look abandoned: the reconciler would start the
   * job again and the two executions would take the partition from each other in turn. The first
   * renewal brings the lease back to the TTL. Default 0.
   */
  workerStartMs?: number;
  /** A batch's worker: its open sessions, over which verification inspects the destinations. */
  connections?: Connections;
}

const ACTOR = 'step-functions';

export type StartResult = { action: 'SKIP'; customerId: string; jobId: string; reason: string } | RunStart;

/** StartTransfer's answer when the execution runs (or verifies) the job. */
export interface RunStart {
  action: 'RUN' | 'VERIFY';
  customerId: string;
  jobId: string;
  flowType: FlowType;
  /** For the state machine's ChooseFlow: a server-side copy runs in a Lambda, anything else on the worker. */
  serverSideCopy: boolean;
  /** The file's size when the job was created (ChooseFlow: a small one takes the fast path). */
  bytesTotal?: number;
  lease: LeaseToken;
  job: JobKey;
  /**
   * A server-side copy's job as the claim wrote it, and its endpoints as the execution's input gave
   * them (handedToCopy): the copy then reads neither.
   */
  claimed?: TransferJob;
  endpoints?: EndpointPair;
}

async function loadJob(jobs: JobStore, key: JobKey): Promise<TransferJob> {
  const job = await jobs.get(key);
  if (!job) throw new NotFoundError(`job ${key.jobId} not found`);
  return job;
}

/** What an execution may do with one job under its lease. */
export type Claim = { action: 'RUN' | 'VERIFY'; job: TransferJob } | { action: 'SKIP'; reason: string };

/**
 * Takes one job for the execution holding `fence`: QUEUED → RUNNING (a
 * conditional write, so of several executions exactly one wins), or resumes a
 * RUNNING/VERIFYING job that was left by a lease holder of an older epoch (a
 * crashed execution whose lease expired, a region that failed over). A job
 * another live execution of this region runs (same epoch, other execution) is
 * skipped, as is a finished one: a job is never run twice at once.
 */
export async function claimJob(
  jobs: JobStore,
  key: JobKey,
  fence: LeaseToken,
  options: {
    /** Most often QUEUED: the conditional write is tried first, and the job read only when it is refused. */
    likelyQueued?: boolean;
    /** The job as the caller has just read it. */
    known?: TransferJob;
    /**
     * The claim's audit event goes with the job's end (auditWithEnd), for work that ends within
     * moments or one task: a batch's small file, a server-side copy.
     */
    auditWithEnd?: boolean;
  } = {},
): Promise<Claim> {
  const origin = { actor: ACTOR, region: fence.region, fence };
  const running = { ...origin, auditWithEnd: options.auditWithEnd === true };
  if (options.likelyQueued) {
    // One DynamoDB read less per claim when the job is QUEUED, as it is but for a few.
    try {
      const job = await jobs.transition(key, 'RUNNING', running);
      if (job.partitionId !== fence.partitionId) throw new Error(`job ${key.jobId} is not in partition ${fence.partitionId}`);
      return { action: 'RUN', job };
    } catch (error) {
      // Not QUEUED, or written under a newer epoch: look at it as below.
      if (!(error instanceof IllegalTransitionError) && !(error instanceof StaleOwnerError)) throw error;
    }
  }
  // The caller's copy (just read) serves the first look; a refused write reads again.
  let known = options.known;
  for (let look = 0; look < 3; look++) {
    let job = known ?? (await loadJob(jobs, key));
    known = undefined;
    if (isTerminal(job.status)) return { action: 'SKIP', reason: `job is already ${job.status}` };
    if (job.partitionId !== fence.partitionId) {
      return { action: 'SKIP', reason: `job belongs to partition ${job.partitionId}, not to ${fence.partitionId}` };
    }
    try {
      if (job.status === 'RECEIVED') job = await jobs.transition(key, 'QUEUED', origin);
      if (job.status === 'QUEUED') return { action: 'RUN', job: await jobs.transition(key, 'RUNNING', running) };
    } catch (error) {
      // Another execution moved it first: look again at what it is now.
      if (error instanceof IllegalTransitionError) continue;
      throw error;
    }
    if (runByAnother(job, fence)) {
      return { action: 'SKIP', reason: `job is ${job.status} in another execution (${job.runningExecutionId ?? 'unknown'})` };
    }
    if (job.status === 'RUNNING' && job.runningExecutionId !== fence.executionId) job = await jobs.resume(key, fence, ACTOR);
    return { action: job.status === 'VERIFYING' ? 'VERIFY' : 'RUN', job };
  }
  throw new TransientError(`job ${key.jobId} kept changing while it was being claimed`);
}

/**
 * A live execution of this region (same epoch) other than `fence`'s runs the
 * job. An older epoch's holder is not live: its lease expired or moved.
 */
function runByAnother(job: TransferJob, fence: LeaseToken): boolean {
  return job.runningExecutionId !== fence.executionId && (job.fenceEpoch ?? 0) >= fence.epoch;
}

/**
 * First task of an execution: take the partition lease for this region and
 * claim the job (see claimJob). A job that is already terminal (cancelled, or
 * finished by the other region) or run by another execution is skipped.
 * `input`, the execution's input, names the job's partition and flow when the
 * engine's starter gave them: then the lease is taken and the claim written
 * without reading the job first (it is read only if the claim is refused).
 */
export async function startTransfer(
  deps: OrchestrationDeps,
  input: JobKey & {
    executionId: string;
    input?: { partitionId?: string; flowType?: string; endpoints?: EndpointPair } | undefined;
  },
): Promise<StartResult> {
  const key = { customerId: input.customerId, jobId: input.jobId };
  const { facts, known } = await factsFor(deps.jobs, key, input.input);
  if (known && isTerminal(known.status)) return { action: 'SKIP', ...key, reason: `job is already ${known.status}` };
  const fence = await takeLease(deps, facts.partitionId, input.executionId);
  // A server-side copy claims, copies and ends its job within one Lambda invocation (at most 15
  // minutes): its RUNNING event is written with its end's, in one audit request.
  const claim = await claimJob(deps.jobs, key, fence, {
    ...(known ? { known } : { likelyQueued: true }),
    auditWithEnd: isServerSideCopy(deps.drivers, facts.flowType),
  });
  if (claim.action === 'SKIP') {
    await releaseQuietly(deps, fence);
    return { action: 'SKIP', ...key, reason: claim.reason };
  }
  const serverSideCopy = isServerSideCopy(deps.drivers, claim.job.flowType);
  return {
    action: claim.action,
    ...key,
    flowType: claim.job.flowType,
    serverSideCopy,
    ...(claim.job.bytesTotal !== undefined ? { bytesTotal: claim.job.bytesTotal } : {}),
    lease: fence,
    job: key,
    ...(serverSideCopy && claim.action === 'RUN' ? handedToCopy(claim.job, input.input?.endpoints) : {}),
  };
}

/**
 * What StartTransfer hands a server-side copy besides its lease, so that the copy reads neither the job
 * nor its endpoints: the job as the claim wrote it (whatever is written after is another epoch's, which
 * the copy's fenced writes refuse), unless it is too large for the execution's state (a checkpoint of
 * many parts); and the endpoints the execution was started with, if it was.
 */
function handedToCopy(job: TransferJob, endpoints: EndpointPair | undefined): Pick<RunStart, 'claimed' | 'endpoints'> {
  return {
    ...(JSON.stringify(job).length <= CLAIMED_JOB_MAX_CHARS ? { claimed: job } : {}),
    ...(endpoints ? { endpoints } : {}),
  };
}

/** A state may hold 256 KiB (Step Functions' quota); a claimed job larger than this is read by the copy instead. */
const CLAIMED_JOB_MAX_CHARS = 32 * 1024;

/** What StartTransfer needs of a job before claiming it. */
type JobFacts = Pick<TransferJob, 'partitionId' | 'flowType'>;

/**
 * The job's partition and flow as the execution's input gives them (the engine's starter puts both
 * there), or else as the job, read here, says; `known` is the job when it was read.
 */
async function factsFor(
  jobs: JobStore,
  key: JobKey,
  given: { partitionId?: string; flowType?: string } | undefined,
): Promise<{ facts: JobFacts; known?: TransferJob }> {
  if (given?.partitionId && given.flowType) {
    return { facts: { partitionId: given.partitionId, flowType: given.flowType as FlowType } };
  }
  const known = await loadJob(jobs, key);
  return { facts: known, known };
}

async function takeLease(deps: OrchestrationDeps, partitionId: string, executionId: string): Promise<LeaseToken> {
  const ttlMs = deps.leaseTtlMs + (deps.workerStartMs ?? 0);
  const lease = await deps.leases.acquire(partitionId, { executionId, region: deps.region }, ttlMs);
  return tokenOf(lease, executionId);
}

/** Releases the lease; one that has moved on (another region took over) is not ours to release. */
async function releaseQuietly(deps: OrchestrationDeps, lease: LeaseToken): Promise<void> {
  await deps.leases.release(lease).catch((error) => {
    if (!(error instanceof StaleOwnerError)) throw error;
  });
}

/**
 * First task of a batch execution: take the partition lease (all jobs of a
 * batch share source and target, hence the partition). The jobs themselves
 * are claimed one by one by the worker (claimJob), so this stays one lease
 * write however large the batch. null: there is nothing to run.
 */
export async function startBatch(
  deps: OrchestrationDeps,
  input: BatchInput & { executionId: string },
): Promise<LeaseToken | null> {
  const first = input.jobIds[0];
  if (!first) return null;
  const job = await loadJob(deps.jobs, { customerId: input.customerId, jobId: first });
  return takeLease(deps, job.partitionId, input.executionId);
}

/**
 * VERIFYING → SUCCEEDED, only if the destination holds what the data plane
 * reported (the worker hands its jobs over VERIFYING with their result; an S3
 * copy's job is still RUNNING and enters VERIFYING here): the same size, the
 * same ETag and, where the result recorded a checksum and S3 reports one for
 * the destination, the same checksum.
 */
export async function verifyTransfer(
  deps: OrchestrationDeps,
  input: JobKey & { lease: LeaseToken },
  /** The job as the caller just wrote it (a batch's worker), so it is not read again. */
  known?: TransferJob,
): Promise<TransferJob> {
  const key = { customerId: input.customerId, jobId: input.jobId };
  let job = known ?? (await loadJob(deps.jobs, key));
  // A server-side copy verifies and ends its job itself (finishDelivery): nothing is left to do.
  if (job.status === 'SUCCEEDED') return job;
  const origin = { actor: ACTOR, region: deps.region, fence: input.lease };
  if (job.status === 'RUNNING') job = await deps.jobs.transition(key, 'VERIFYING', origin);
  const result = job.result;
  if (!result) throw new VerificationError(`job ${job.jobId} has no delivery result to verify`);
  await checkDestination(deps, job, result);
  return deps.jobs.transition(key, 'SUCCEEDED', origin);
}

/** Throws VerificationError unless the job's destination holds what `result` says was delivered. */
export async function checkDestination(
  deps: Pick<OrchestrationDeps, 'endpoints' | 'drivers' | 'connections'>,
  job: TransferJob,
  result: TransferResult,
  /** The target endpoint, when the caller has just read it. */
  known?: Endpoint,
): Promise<void> {
  const target = known ?? (await deps.endpoints.get(job.customerId, job.targetEndpointId));
  if (!target) throw new NotFoundError(`target endpoint ${job.targetEndpointId} not found`);
  const found = await deps.drivers
    .driverFor(target)
    .inspect(target, resolveLocation(deps.drivers, target, job.targetPath, 'targetPath'), deps.connections);
  const problem = mismatch(result, found);
  if (problem) throw new VerificationError(`${result.location}: ${problem}`);
}

/**
 * A RUNNING job's delivery, once its destination is verified, in ONE conditional write under the
 * lease: the result, and RUNNING → VERIFYING → SUCCEEDED (both states in its history, its audit
 * trail and its events). What the separate VERIFYING write and VerifyTransfer's check would prove,
 * this proves before writing: nothing is written unless the destination holds what was delivered.
 * A crash before the write leaves the job RUNNING; its retry finds the delivery there and settles it
 * (alreadyPresent), never delivering twice.
 */
export async function finishDelivery(
  deps: Pick<OrchestrationDeps, 'jobs' | 'endpoints' | 'drivers' | 'connections' | 'region'>,
  job: TransferJob,
  lease: LeaseToken,
  work: JobWork & { result: TransferResult },
  options: { actor?: string; target?: Endpoint } = {},
): Promise<TransferJob> {
  const { actor = ACTOR, target } = options;
  await checkDestination(deps, job, work.result, target);
  return deps.jobs.transition(job, 'SUCCEEDED', { actor, region: lease.region, fence: lease, through: ['VERIFYING'], work });
}

function mismatch(expected: TransferResult, found: DestinationState | undefined): string | undefined {
  if (!found) return 'nothing is there';
  if (found.bytes !== expected.bytes) return `holds ${found.bytes} bytes, ${expected.bytes} were delivered`;
  if (expected.etag && found.etag && found.etag !== expected.etag)
    return `ETag ${found.etag} differs from the delivered ${expected.etag}`;
  return found.checksum && checksumMismatch(expected, found.checksum);
}

/**
 * The destination's checksum against the recorded one: a full-object SHA-256 is the content's, so it
 * is compared with the result's sha256 (whichever flow recorded it); S3's composite checksum with the
 * one an S3→S3 copy recorded. Nothing recorded to compare with: no verdict.
 */
function checksumMismatch(expected: TransferResult, found: ObjectChecksum): string | undefined {
  const foundSha256 = contentSha256(found);
  if (expected.sha256 && foundSha256 && foundSha256 !== expected.sha256) {
    return `SHA-256 ${foundSha256} differs from the delivered ${expected.sha256}`;
  }
  const recorded = expected.checksum;
  if (recorded && (recorded.algorithm !== found.algorithm || recorded.type !== found.type || recorded.value !== found.value)) {
    return `${found.type} ${found.algorithm} checksum ${found.value} differs from the delivered ${recorded.type} ${recorded.value}`;
  }
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
 * another region has taken the job over (newer epoch), it is left to that region;
 * an interrupted attempt (isInterruption) leaves the job to be resumed.
 */
export async function failTransfer(
  deps: OrchestrationDeps,
  input: JobKey & { lease?: LeaseToken; error?: StateError },
): Promise<{ failed: boolean }> {
  const failed = !isInterruption(input.error) && (await markFailed(deps, input, input.lease, input.error));
  if (input.lease) await releaseQuietly(deps, input.lease);
  return { failed };
}

/**
 * The batch's worker task failed as a whole (it could not start or crashed):
 * every job of the batch it had not finished is FAILED with the task's error
 * (or its own recorded one), then the lease is released. Jobs the worker
 * finished, or that another execution runs, are left as they are, and so is
 * every job of an interrupted worker (isInterruption).
 */
export async function failBatch(
  deps: OrchestrationDeps,
  input: BatchInput & { lease?: LeaseToken; error?: StateError },
): Promise<{ failed: number }> {
  let failed = 0;
  if (!isInterruption(input.error)) {
    for (const jobId of input.jobIds) {
      const key = { customerId: input.customerId, jobId };
      if (await markFailed(deps, key, input.lease, input.error)) failed++;
    }
  }
  if (input.lease) await releaseQuietly(deps, input.lease);
  return { failed };
}

/**
 * An attempt that was interrupted, not failed: its worker was stopped (SIGTERM: a deploy, a
 * scale-in, its region going down) or it lost the partition lease (to the other region, or
 * because its heartbeats stopped getting through). Nothing was committed, and nothing about the
 * file is wrong: its jobs stay as they are (RUNNING from their checkpoint, or QUEUED) and the
 * lease's next holder, or the reconciler once the lease is free, resumes them. Failing them
 * instead would end a transfer nobody asked to stop.
 */
export function isInterruption(error: StateError | undefined): boolean {
  if (!error) return false;
  if (['LeaseLostError', 'StaleOwnerError', 'StoppedError'].includes(error.Error)) return true;
  if (error.Error !== 'States.TaskFailed') return false;
  const container = ecsTaskOf(error)?.Containers?.[0];
  const exit = container?.ExitCode;
  return exit === INTERRUPTED_EXIT.leaseLost || exit === INTERRUPTED_EXIT.stopped || container?.Signal === 'SIGTERM';
}

/** What a `.sync` ECS task's failure carries in its Cause: the task as DescribeTasks shows it (the local runner: the same fields). */
interface EcsTask {
  StopCode?: string;
  StoppedReason?: string;
  Containers?: { ExitCode?: number | null; Reason?: string; Signal?: string | null }[];
}

function ecsTaskOf(error: StateError): EcsTask | undefined {
  try {
    const task = JSON.parse(error.Cause ?? '') as EcsTask;
    return typeof task === 'object' && task !== null && Array.isArray(task.Containers) ? task : undefined;
  } catch {
    return undefined;
  }
}

/**
 * FAILED with a reason, if the job is this execution's to fail: without a
 * lease only a job that never started; with one, a job it runs (or left by an
 * older epoch). Another region's newer epoch refuses the write (StaleOwnerError).
 */
export async function markFailed(
  deps: Pick<OrchestrationDeps, 'jobs' | 'region'>,
  key: JobKey,
  lease: LeaseToken | undefined,
  error: StateError | undefined,
): Promise<boolean> {
  const job = await deps.jobs.get(key);
  if (!job || isTerminal(job.status)) return false;
  const started = job.status !== 'RECEIVED' && job.status !== 'QUEUED';
  if (started && (!lease || (job.runningExecutionId !== undefined && runByAnother(job, lease)))) return false;
  try {
    await deps.jobs.transition(key, 'FAILED', {
      actor: ACTOR,
      region: deps.region,
      errorCode: job.lastError?.code ?? codeOf(error),
      errorMessage: job.lastError?.message ?? messageOf(error),
      ...(lease ? { fence: lease } : {}),
    });
    return true;
  } catch (failure) {
    if (failure instanceof StaleOwnerError || failure instanceof IllegalTransitionError) return false;
    throw failure;
  }
}

/**
 * Error names of the engine become their registered reason codes
 * (LeaseHeldError → LEASE_HELD, VerificationError → VERIFICATION_FAILED);
 * AWS ones pass through, spelled the same way.
 */
function codeOf(error: StateError | undefined): string {
  const name = error?.Error ?? 'UNKNOWN';
  if (name === 'States.TaskFailed') return 'WORKER_FAILED';
  if (name === 'States.Timeout') return 'TIMEOUT';
  const spelled = name
    .replace(/Error$/, '')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .toUpperCase();
  return [spelled, `${spelled}_FAILED`].find(isErrorCode) ?? spelled;
}

/**
 * Lambda puts {errorMessage, errorType} JSON in Cause, an ECS task its description (said here in
 * a sentence: exit status and stop reason); the local interpreter the plain message.
 */
function messageOf(error: StateError | undefined): string {
  if (!error?.Cause) return error?.Error ?? 'the transfer failed';
  const task = ecsTaskOf(error);
  if (task) {
    const container = task.Containers?.[0];
    const ended = container?.Signal
      ? `was killed (${container.Signal})`
      : `exited with status ${container?.ExitCode ?? 'unknown'}`;
    const reason = container?.Reason ?? task.StoppedReason;
    return `the worker task ${ended} without recording a result${reason ? `: ${reason}` : ''}`;
  }
  try {
    const cause = JSON.parse(error.Cause) as { errorMessage?: string };
    return cause.errorMessage ?? error.Cause;
  } catch {
    return error.Cause;
  }
}

/**
 * The server-side copy task (S3→S3): resolves the job's locations and has
 * their driver copy, while heartbeating the lease. A TransientError from the
 * driver is retried by the state machine (the copy resumes from its checkpoint).
 * The job and its endpoints are read only when StartTransfer did not hand them
 * on (`claimed`, `endpoints`), or handed on ones that are not this job's.
 */
export async function runServerSideCopy(
  deps: OrchestrationDeps,
  input: JobKey & { lease: LeaseToken; claimed?: TransferJob | undefined; endpoints?: EndpointPair | undefined },
): Promise<TransferResult> {
  const job = isThisJob(input.claimed, input) ? input.claimed : await loadJob(deps.jobs, input);
  const [source, target] = areJobsEndpoints(input.endpoints, job)
    ? [input.endpoints.source, input.endpoints.target]
    : await deps.endpoints.getPair(job.customerId, job.sourceEndpointId, job.targetEndpointId);
  if (!source || !target) throw new NotFoundError(`job ${job.jobId} refers to an endpoint that no longer exists`);
  const driver = deps.drivers.driverFor(source);
  const copy = driver === deps.drivers.driverFor(target) ? driver.copyServerSide?.bind(driver) : undefined;
  if (!copy) throw new Error(`job ${job.jobId} (${job.flowType}) is not a server-side copy`);
  const from = resolveLocation(deps.drivers, source, job.sourcePath, 'sourcePath');
  const to = resolveLocation(deps.drivers, target, job.targetPath, 'targetPath');
  // The copy's checkpoints go to the store as they are; its result is verified and ends the job in the
  // same write (finishDelivery), so the state machine goes from here straight to ReleaseLease.
  let ended = false;
  const end = async (fence: LeaseToken, work: JobWork & { result: TransferResult }) => {
    const done = await finishDelivery(deps, job, fence, work, { target });
    ended = true;
    return done;
  };
  const jobs: ServerSideCopyRun['jobs'] = {
    get: (key) => deps.jobs.get(key),
    recordWork: (key, fence, work) =>
      work.result && key.jobId === job.jobId
        ? end(fence, { ...work, result: work.result })
        : deps.jobs.recordWork(key, fence, work),
  };
  return withLeaseHeartbeat(deps.leases, input.lease, deps.leaseTtlMs, async (_signal, renewLease) => {
    const result = await copy(from, to, { job, lease: input.lease, jobs, renewLease });
    // The execution goes on to ReleaseLease: a job left RUNNING would wait for the reconciler.
    if (!ended) throw new Error(`the ${job.flowType} copy of job ${job.jobId} returned without recording its result`);
    return result;
  });
}

function isThisJob(job: TransferJob | undefined, key: JobKey): job is TransferJob {
  return job?.customerId === key.customerId && job.jobId === key.jobId;
}

function areJobsEndpoints(pair: EndpointPair | undefined, job: TransferJob): pair is EndpointPair {
  return (
    pair?.source.customerId === job.customerId &&
    pair.source.endpointId === job.sourceEndpointId &&
    pair.target.customerId === job.customerId &&
    pair.target.endpointId === job.targetEndpointId
  );
}
