import { posix } from 'node:path';
import type { Actor } from '../../domain/actor';
import type { Clock } from '../../domain/clock';
import { copiesServerSide, type Drivers, type EndpointDriver, flowTypeOf } from '../../domain/drivers';
import type { Endpoint } from '../../domain/endpoint';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import { deterministicId } from '../../domain/ids';
import { deriveIdempotencyKey, type TransferJob } from '../../domain/job';
import type { Location } from '../../domain/location';
import { resolveFolderLocation, resolveLocation } from '../../domain/locations';
import { inParallel } from '../../domain/parallel';
import { hasDotSegment } from '../../domain/path-segments';
import type {
  CreatedJob,
  EndpointPair,
  EndpointStore,
  ExecutionStarter,
  JobStore,
  LeaseStore,
  NewJob,
  PageRequest,
  SourceFile,
} from '../../domain/ports';
import type { AfterTransferOutcome, JobTrigger } from '../../domain/triggers';
import { planExecutions } from './batches';
import { endOrphan, isStarted } from './orphans';
import type { CreateTransferRequest } from './schemas';

export interface TransferDeps {
  jobs: JobStore;
  endpoints: EndpointStore;
  drivers: Drivers;
  executions: ExecutionStarter;
  /** Cancel and re-drive of a job whose execution is gone take its partition lease (orphans.ts). */
  leases: LeaseStore;
  leaseTtlMs: number;
  clock: Clock;
  region: string;
}

/** One request fans out to at most this many jobs (one per file). */
export const MAX_FILES_PER_REQUEST = 10_000;
const START_CONCURRENCY = 16;

/** The caller's endpoint, ACTIVE and of a direction that allows the role; 404 for another customer's. */
export async function usableEndpoint(
  deps: Pick<TransferDeps, 'endpoints'>,
  actor: Actor,
  endpointId: string,
  role: 'source' | 'target',
): Promise<Endpoint> {
  return usable(await deps.endpoints.get(actor.customerId, endpointId), endpointId, role);
}

/** A source and a target as usableEndpoint checks them, read together; the source's problem is named first. */
async function usableEndpoints(
  deps: Pick<TransferDeps, 'endpoints'>,
  actor: Actor,
  request: CreateTransferRequest,
): Promise<[Endpoint, Endpoint]> {
  const [source, target] = await deps.endpoints.getPair(actor.customerId, request.source.endpointId, request.target.endpointId);
  return [usable(source, request.source.endpointId, 'source'), usable(target, request.target.endpointId, 'target')];
}

function usable(endpoint: Endpoint | undefined, endpointId: string, role: 'source' | 'target'): Endpoint {
  if (!endpoint) throw new NotFoundError(`endpoint ${endpointId} not found`);
  if (endpoint.status !== 'ACTIVE') {
    throw new ConflictError(
      `${role} endpoint ${endpointId} is ${endpoint.status}; only ACTIVE endpoints take new jobs`,
      'ENDPOINT_NOT_ACTIVE',
    );
  }
  const allowed = role === 'source' ? ['OUTBOUND', 'BOTH'] : ['INBOUND', 'BOTH'];
  if (!allowed.includes(endpoint.direction)) {
    throw new ValidationError([
      { field: `${role}.endpointId`, message: `endpoint direction ${endpoint.direction} does not allow it as a ${role}` },
    ]);
  }
  return endpoint;
}

const isFolder = (request: CreateTransferRequest) => request.source.path.endsWith('/') || request.source.pattern !== undefined;

/** A single file's target: a target path ending with "/" is a folder, where the file keeps its own name. */
function fileTargetOf(request: CreateTransferRequest): string {
  const { path } = request.target;
  return path.endsWith('/') ? joinPath(path, posix.basename(request.source.path)) : path;
}

/** A file in a folder of the request; the base folder ("/") gives the file's name alone. */
function joinPath(folder: string, name: string): string {
  const parent = folder.replace(/^\/+|\/+$/g, '');
  return parent ? `${parent}/${name}` : name;
}

/** One side of a request: the endpoint, its driver, and where the request's path lands on it. */
export interface Side {
  endpoint: Endpoint;
  driver: EndpointDriver;
  location: Location;
}

/** The endpoint's driver and the location of `path` on it (a ValidationError naming `field` when it cannot be). */
export function sideOf(drivers: Drivers, endpoint: Endpoint, path: string, field: string): Side {
  return { endpoint, driver: drivers.driverFor(endpoint), location: resolveLocation(drivers, endpoint, path, field) };
}

/** The same for a folder, which may be the endpoint's base folder ("/"). */
function folderSideOf(drivers: Drivers, endpoint: Endpoint, path: string, field: string): Side {
  return { endpoint, driver: drivers.driverFor(endpoint), location: resolveFolderLocation(drivers, endpoint, path, field) };
}

/**
 * Whether the two sides are the same file or folder: only endpoints of one
 * driver can be, and it compares the locations after resolution, so the
 * spellings of one place (an S3 prefix with or without its "/", a source
 * folder with a trailing "/", a base path joined to a relative one) compare
 * equal, and so do two endpoints that name the same bucket or server.
 */
function samePlace(source: Side, target: Side): boolean {
  return (
    source.driver === target.driver && source.driver.samePlace(source.endpoint, source.location, target.endpoint, target.location)
  );
}

/** A file copied onto itself would be read while it is overwritten (or end TARGET_EXISTS): refused up front. */
function refuseSelfCopy(request: CreateTransferRequest, source: Side, target: Side) {
  if (!samePlace(source, target)) return;
  throw new ValidationError([
    {
      field: 'target.path',
      message: isFolder(request)
        ? 'is the source folder itself: every file would be copied onto itself'
        : 'is the source file itself: a file cannot be copied onto itself',
    },
  ]);
}

/**
 * A listed file's name becomes part of its target path, so a name that is a
 * traversal (an S3 key such as `in/..\..\x` lists as `..\..\x`) is refused
 * like one in the request.
 */
function refuseTraversingNames(files: SourceFile[]): void {
  const traversing = files.find((file) => hasDotSegment(file.name));
  if (traversing) {
    throw new ValidationError([
      {
        field: 'source.path',
        message: `holds a file named ${JSON.stringify(traversing.name)}, which would climb out of the target folder; narrow the request with a pattern`,
      },
    ]);
  }
}

/**
 * POST /transfers: one job per file (a folder fans out), all under one request
 * id. Each job's idempotency key comes from source, target, path and the file's
 * version, or from the caller's Idempotency-Key, so a retried request maps onto
 * the same jobs and never creates new ones. Jobs are persisted (RECEIVED and
 * QUEUED in one conditional write), and only then is their execution started.
 */
export async function createTransfers(
  deps: TransferDeps,
  actor: Actor,
  request: CreateTransferRequest,
  clientKey: string | undefined,
): Promise<{ created: boolean; requestId: string; jobs: TransferJob[] }> {
  const [source, target] = await usableEndpoints(deps, actor, request);
  const folder = isFolder(request);
  const fileTarget = fileTargetOf(request);
  const from = folder
    ? folderSideOf(deps.drivers, source, request.source.path, 'source.path')
    : sideOf(deps.drivers, source, request.source.path, 'source.path');
  const to = folder
    ? folderSideOf(deps.drivers, target, request.target.path, 'target.path')
    : sideOf(deps.drivers, target, fileTarget, 'target.path');
  refuseSelfCopy(request, from, to);

  let files: SourceFile[];
  if (folder) {
    files = await from.driver.list(source, from.location, request.source.path, request.source.pattern, MAX_FILES_PER_REQUEST + 1);
    if (files.length > MAX_FILES_PER_REQUEST) {
      throw new ValidationError([
        { field: 'source.path', message: `matches more than ${MAX_FILES_PER_REQUEST} files; narrow it with a pattern` },
      ]);
    }
    refuseTraversingNames(files);
  } else {
    const file = await from.driver.stat(source, from.location, request.source.path);
    if (!file) throw new ValidationError([{ field: 'source.path', message: 'does not exist at the source endpoint' }]);
    files = [file];
  }

  const requestId = clientKey
    ? deterministicId('req', actor.customerId, 'client-key', clientKey)
    : deterministicId(
        'req',
        actor.customerId,
        JSON.stringify(request),
        ...files.map((f) => `${f.path}:${f.size}:${f.modifiedAt}:${f.version}`),
      );
  const results = await createJobsForFiles(deps, {
    actor: actor.principalArn,
    source: from,
    target: to,
    requestId,
    createDirectories: request.target.createDirectories,
    deliveries: files.map((file) => ({
      file,
      targetPath: folder ? joinPath(request.target.path, file.name) : fileTarget,
      ...(clientKey ? { idempotencyKey: deterministicId('key', clientKey, file.path) } : {}),
    })),
  });
  return { created: results.some((r) => r.created), requestId, jobs: results.map((r) => r.job) };
}

/** One file to deliver: where it goes, and the key that makes its job unique when not derived from the file. */
export interface FileDelivery {
  file: SourceFile;
  targetPath: string;
  /** Default: deriveIdempotencyKey of source, target, path and the file's size, mtime and version. */
  idempotencyKey?: string;
}

/**
 * The one way jobs are created, whatever starts them (POST /transfers, a
 * route's S3 event, a schedule's poll): one job per file, written RECEIVED and
 * QUEUED in one conditional put each (a replay finds the same jobs), then the
 * executions of those still QUEUED are started, small files in batches.
 * The caller has checked that both endpoints are the customer's and usable.
 */
export async function createJobsForFiles(
  deps: Pick<TransferDeps, 'jobs' | 'executions' | 'region'>,
  params: {
    /** Recorded as the actor of the jobs' first transitions (a principal ARN, or a route or schedule). */
    actor: string;
    source: Side;
    target: Side;
    requestId: string;
    deliveries: readonly FileDelivery[];
    trigger?: JobTrigger;
    /** An SFTP target folder that does not exist is created (default true). */
    createDirectories?: boolean;
    /** A scheduled pull's action on each source file once its job SUCCEEDED (PENDING until it runs). */
    afterTransfer?: AfterTransferOutcome;
  },
): Promise<CreatedJob[]> {
  const { source, target } = params;
  const flowType = flowTypeOf(source.driver, target.driver);
  const newJobs: NewJob[] = params.deliveries.map(({ file, targetPath, idempotencyKey }) => {
    const identity = {
      sourceEndpointId: source.endpoint.endpointId,
      sourcePath: file.path,
      targetEndpointId: target.endpoint.endpointId,
      targetPath,
    };
    return {
      ...identity,
      customerId: source.endpoint.customerId,
      requestId: params.requestId,
      flowType,
      idempotencyKey:
        idempotencyKey ??
        deriveIdempotencyKey({ ...identity, file: { size: file.size, modifiedAt: file.modifiedAt, version: file.version } }),
      bytesTotal: file.size,
      ...(params.trigger ? { trigger: params.trigger } : {}),
      ...(params.createDirectories === false ? { createDirectories: false } : {}),
      ...(params.afterTransfer ? { afterTransfer: params.afterTransfer } : {}),
    };
  });
  const results = await deps.jobs.createMany(newJobs, { actor: params.actor, region: deps.region }, { queued: true });
  // A server-side copy's execution carries the endpoints as checked here, so the copy does not read them again.
  const serverSideCopy = copiesServerSide(source.driver, target.driver);
  await startExecutions(
    deps,
    results.map((r) => r.job),
    serverSideCopy ? { serverSideCopy, endpoints: { source: source.endpoint, target: target.endpoint } } : { serverSideCopy },
  );
  return results;
}

/**
 * One execution per large file, one per batch of small ones (planExecutions),
 * for those with a job still QUEUED. A replay plans the same batches, so it
 * restarts only what a crash left unstarted.
 */
async function startExecutions(
  deps: Pick<TransferDeps, 'executions'>,
  jobs: TransferJob[],
  pair: { serverSideCopy: boolean; endpoints?: EndpointPair },
): Promise<void> {
  const waiting = (job: TransferJob) => job.status === 'QUEUED';
  await inParallel(planExecutions(jobs, pair), START_CONCURRENCY, async (plan) => {
    if (plan.kind === 'job') {
      if (waiting(plan.job))
        await deps.executions.start({ ...plan.job, ...(pair.endpoints ? { endpoints: pair.endpoints } : {}) });
    } else if (plan.jobs.some(waiting)) {
      await deps.executions.startBatch({
        customerId: plan.customerId,
        batchId: plan.batchId,
        jobIds: plan.jobs.map((job) => job.jobId),
      });
    }
  });
}

async function loadJob(deps: Pick<TransferDeps, 'jobs'>, actor: Actor, jobId: string): Promise<TransferJob> {
  const job = await deps.jobs.get({ customerId: actor.customerId, jobId });
  // Another customer's job is indistinguishable from a missing one.
  if (!job) throw new NotFoundError(`job ${jobId} not found`);
  return job;
}

export function getJob(deps: Pick<TransferDeps, 'jobs'>, actor: Actor, jobId: string): Promise<TransferJob> {
  return loadJob(deps, actor, jobId);
}

export function listJobs(
  deps: Pick<TransferDeps, 'jobs'>,
  actor: Actor,
  filter: { status?: TransferJob['status']; requestId?: string },
  page: PageRequest,
) {
  return deps.jobs.list(actor.customerId, filter, page);
}

/**
 * Allowed before execution starts (RECEIVED, QUEUED), and for a started job whose execution is gone
 * (orphans.ts); 409 for a job an execution runs, or one that has ended.
 */
export async function cancelJob(deps: TransferDeps, actor: Actor, jobId: string): Promise<TransferJob> {
  const job = await loadJob(deps, actor, jobId);
  if (job.status === 'CANCELLED') return job;
  if (isStarted(job)) return endOrphan(deps, job, { status: 'CANCELLED', actor: actor.principalArn });
  return deps.jobs.transition(job, 'CANCELLED', { actor: actor.principalArn, region: deps.region });
}

/**
 * A re-drive is a new job that references the original (spec 8.2.2). It
 * inherits the original's checkpoint, so an SFTP→SFTP re-drive delivers from
 * the staged copy instead of pulling from the source again. Re-driving the same
 * job twice (with the same Idempotency-Key, or none) returns the same new job.
 */
export async function redriveJob(
  deps: TransferDeps,
  actor: Actor,
  jobId: string,
  clientKey: string | undefined,
): Promise<{ created: boolean; job: TransferJob }> {
  let original = await loadJob(deps, actor, jobId);
  // A started job whose execution is gone is ended first (FAILED, EXECUTION_LOST), under its lease.
  if (isStarted(original)) original = await endOrphan(deps, original, { status: 'FAILED', actor: actor.principalArn });
  if (original.status !== 'FAILED' && original.status !== 'CANCELLED') {
    throw new ConflictError(
      `job ${jobId} is ${original.status}; only FAILED or CANCELLED jobs can be re-driven`,
      'NOT_REDRIVABLE',
    );
  }
  const origin = { actor: actor.principalArn, region: deps.region };
  const outcome = await deps.jobs.create(
    {
      customerId: original.customerId,
      flowType: original.flowType,
      sourceEndpointId: original.sourceEndpointId,
      sourcePath: original.sourcePath,
      targetEndpointId: original.targetEndpointId,
      targetPath: original.targetPath,
      idempotencyKey: deterministicId('redrive', original.jobId, clientKey ?? ''),
      redriveOf: original.jobId,
      // The job's one keyless re-drive continues its chain (and the chain's temporary file at an SFTP target).
      // Re-drives under other Idempotency-Keys are siblings that may run at once (a region's executions share
      // the partition lease): each starts its own chain, so that no two running jobs write one temporary file.
      ...(clientKey === undefined ? { chainId: original.chainId ?? original.jobId } : {}),
      ...(original.requestId ? { requestId: original.requestId } : {}),
      ...(original.bytesTotal !== undefined ? { bytesTotal: original.bytesTotal } : {}),
      ...(original.checkpoint ? { checkpoint: original.checkpoint } : {}),
    },
    origin,
    { queued: true },
  );
  if (outcome.job.status === 'QUEUED') await deps.executions.start(outcome.job);
  return outcome;
}
