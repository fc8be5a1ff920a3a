import type { Actor } from '../../domain/actor';
import type { Clock } from '../../domain/clock';
import { copiesServerSide, type Drivers, type EndpointDriver, flowTypeOf } from '../../domain/drivers';
import type { Endpoint } from '../../domain/endpoint';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import { deterministicId } from '../../domain/ids';
import { deriveIdempotencyKey, type TransferJob } from '../../domain/job';
import type { Location } from '../../domain/location';
import { resolveLocation } from '../../domain/locations';
import { inParallel } from '../../domain/parallel';
import { hasDotSegment } from '../../domain/path-segments';
import type { EndpointStore, ExecutionStarter, JobStore, PageRequest, SourceFile } from '../../domain/ports';
import { planExecutions } from './batches';
import type { CreateTransferRequest } from './schemas';

export interface TransferDeps {
  jobs: JobStore;
  endpoints: EndpointStore;
  drivers: Drivers;
  executions: ExecutionStarter;
  clock: Clock;
  region: string;
}

/** One request fans out to at most this many jobs (one per file). */
export const MAX_FILES_PER_REQUEST = 10_000;
const START_CONCURRENCY = 16;

async function usableEndpoint(
  deps: TransferDeps,
  actor: Actor,
  endpointId: string,
  role: 'source' | 'target',
): Promise<Endpoint> {
  const endpoint = await deps.endpoints.get(actor.customerId, endpointId);
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

function joinPath(folder: string, name: string): string {
  return `${folder.replace(/\/+$/, '')}/${name}`;
}

/** One side of a request: the endpoint, its driver, and where the request's path lands on it. */
interface Side {
  endpoint: Endpoint;
  driver: EndpointDriver;
  location: Location;
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
  const [source, target] = await Promise.all([
    usableEndpoint(deps, actor, request.source.endpointId, 'source'),
    usableEndpoint(deps, actor, request.target.endpointId, 'target'),
  ]);
  const from: Side = {
    endpoint: source,
    driver: deps.drivers.driverFor(source),
    location: resolveLocation(deps.drivers, source, request.source.path.replace(/\/+$/, ''), 'source.path'),
  };
  const to: Side = {
    endpoint: target,
    driver: deps.drivers.driverFor(target),
    location: resolveLocation(deps.drivers, target, request.target.path, 'target.path'),
  };
  refuseSelfCopy(request, from, to);
  const flowType = flowTypeOf(from.driver, to.driver);

  let files: SourceFile[];
  if (isFolder(request)) {
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
  const origin = { actor: actor.principalArn, region: deps.region };
  const newJobs = files.map((file) => {
    const targetPath = isFolder(request) ? joinPath(request.target.path, file.name) : request.target.path;
    const identity = {
      sourceEndpointId: source.endpointId,
      sourcePath: file.path,
      targetEndpointId: target.endpointId,
      targetPath,
    };
    const idempotencyKey = clientKey
      ? deterministicId('key', clientKey, file.path)
      : deriveIdempotencyKey({ ...identity, file: { size: file.size, modifiedAt: file.modifiedAt, version: file.version } });
    return { ...identity, customerId: actor.customerId, requestId, flowType, idempotencyKey, bytesTotal: file.size };
  });
  const results = await deps.jobs.createMany(newJobs, origin, { queued: true });
  const jobs = results.map((r) => r.job);
  await startExecutions(deps, jobs, { serverSideCopy: copiesServerSide(from.driver, to.driver) });
  return { created: results.some((r) => r.created), requestId, jobs };
}

/**
 * One execution per large file, one per batch of small ones (planExecutions),
 * for those with a job still QUEUED. A replay plans the same batches, so it
 * restarts only what a crash left unstarted.
 */
async function startExecutions(deps: TransferDeps, jobs: TransferJob[], pair: { serverSideCopy: boolean }): Promise<void> {
  const waiting = (job: TransferJob) => job.status === 'QUEUED';
  await inParallel(planExecutions(jobs, pair), START_CONCURRENCY, async (plan) => {
    if (plan.kind === 'job') {
      if (waiting(plan.job)) await deps.executions.start(plan.job);
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

/** Allowed before execution starts (RECEIVED, QUEUED); 409 afterwards. */
export async function cancelJob(deps: TransferDeps, actor: Actor, jobId: string): Promise<TransferJob> {
  const job = await loadJob(deps, actor, jobId);
  if (job.status === 'CANCELLED') return job;
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
  const original = await loadJob(deps, actor, jobId);
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
