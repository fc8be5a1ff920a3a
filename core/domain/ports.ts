import type { AuditEvent, AuditRecord } from './audit';
import type { Endpoint, EndpointBase, EndpointKinds } from './endpoint';
import type { JobStatus, JobWork, ObjectChecksum, TransferJob } from './job';
import type { Lease, LeaseOwner, LeaseToken } from './lease';
import type { AfterTransferOutcome, Route, Schedule } from './triggers';

/** A page of results and the opaque cursor of the next page, if any. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}

export interface AuditLog {
  append(event: AuditEvent): Promise<void>;
  /** Several events, in this order, in as few requests as the store allows. */
  appendAll(events: AuditEvent[]): Promise<void>;
  list(subject: AuditEvent['subject'], page: PageRequest): Promise<Page<AuditRecord>>;
}

export type NewJob = Omit<
  TransferJob,
  'jobId' | 'partitionId' | 'status' | 'attempts' | 'createdAt' | 'updatedAt' | 'transitions' | 'requestFingerprint'
>;

/** Who made a change, and in which region. */
export interface ChangeOrigin {
  actor: string;
  region: string;
}

export interface TransitionOptions extends ChangeOrigin {
  /** The lease under which the change is made; a job already written under a newer epoch refuses it. */
  fence?: LeaseToken;
  errorCode?: string;
  errorMessage?: string;
  /** Work written in the same conditional write (the data plane's result with RUNNING → VERIFYING). */
  work?: JobWork;
  /**
   * States entered on the way to `to` in the same conditional write, each in the history and the
   * audit trail: RUNNING → VERIFYING → SUCCEEDED once the caller has verified the destination.
   */
  through?: JobStatus[];
  /**
   * The write's audit events are kept on the job and written with its terminal write (SUCCEEDED,
   * FAILED, CANCELLED: whoever makes it, in one batch with its own): a batch's claim of a small file,
   * whose end follows within moments, costs no audit request of its own.
   */
  auditWithEnd?: boolean;
}

export interface JobKey {
  customerId: string;
  jobId: string;
}

/** A job create() made, or the one it found under the same idempotency key (created: false). */
export interface CreatedJob {
  job: TransferJob;
  created: boolean;
}

export interface JobStore {
  /**
   * Creates the job, or returns the one that already has its idempotency key.
   * `queued`: the caller starts its execution right away, so the job is written
   * as RECEIVED then QUEUED at once (both in its history and the audit trail),
   * one write instead of two; a crash before the start is healed by a replay,
   * which starts QUEUED jobs.
   */
  create(job: NewJob, origin: ChangeOrigin, options?: { queued?: boolean }): Promise<CreatedJob>;
  /**
   * create() for the jobs of one request, in their order: each is its own
   * conditional write; the audit events of those created are written together.
   */
  createMany(jobs: readonly NewJob[], origin: ChangeOrigin, options?: { queued?: boolean }): Promise<CreatedJob[]>;
  get(key: JobKey): Promise<TransferJob | undefined>;
  /** The jobs of these keys that exist, read as get() reads one, in any order: one request per 100 keys. */
  getMany(keys: readonly JobKey[]): Promise<TransferJob[]>;
  transition(key: JobKey, to: JobStatus, options: TransitionOptions): Promise<TransferJob>;
  /**
   * Records progress, checkpoints, results or errors of a RUNNING job; refused
   * (StaleOwnerError) once a newer lease epoch has written the job, so a region
   * that lost its lease cannot change anything.
   */
  recordWork(key: JobKey, fence: LeaseToken, work: JobWork): Promise<TransferJob>;
  /**
   * A new execution takes over a job left RUNNING by one that stopped (a crashed
   * task, a region that failed over): the job is re-stamped with the new lease
   * epoch, so the old holder's later writes are refused, and its attempt counted.
   */
  resume(key: JobKey, fence: LeaseToken, actor: string): Promise<TransferJob>;
  list(customerId: string, filter: { status?: JobStatus; requestId?: string }, page: PageRequest): Promise<Page<TransferJob>>;
  /**
   * Records the outcome of a pulled file's after-transfer action (a schedule's DELETE or MOVE on the source)
   * on its job, with an audit event; the job's status does not change. NotFoundError for a job that has
   * no after-transfer action.
   */
  recordAfterTransfer(key: JobKey, outcome: AfterTransferOutcome, actor: string): Promise<TransferJob>;
  /** One page of the jobs not yet ended in one shard (ACTIVE_SHARDS): what the reconciler looks at. */
  listActive(shard: string, after?: ActivePage['next']): Promise<ActivePage>;
}

/** A job not yet ended, as the reconciler's index holds it. */
export interface ActiveJob extends JobKey {
  partitionId: string;
  status: JobStatus;
}

export interface ActivePage {
  jobs: ActiveJob[];
  /** Where the next page starts (opaque), absent on the last page. */
  next?: unknown;
}

/** Omit over each member of a union (Omit alone keeps only the keys all members share). */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type NewEndpoint = OmitEach<Endpoint, 'endpointId' | 'createdAt' | 'updatedAt' | 'version'>;

/** The settings of every kind at once, each optional: an update names those of the endpoint's own kind. */
type AnyKindSettings = {
  [T in keyof EndpointKinds]: (settings: Partial<EndpointKinds[T]>) => void;
}[keyof EndpointKinds] extends (settings: infer All) => void
  ? All
  : never;

export type EndpointChanges = Partial<Omit<EndpointBase, 'customerId' | 'endpointId' | 'createdAt' | 'updatedAt' | 'version'>> &
  AnyKindSettings;

export interface EndpointStore {
  create(endpoint: NewEndpoint, actor: string): Promise<Endpoint>;
  get(customerId: string, endpointId: string): Promise<Endpoint | undefined>;
  /** A job's two endpoints in one read (the same id twice is read once). */
  getPair(customerId: string, firstId: string, secondId: string): Promise<[Endpoint | undefined, Endpoint | undefined]>;
  list(customerId: string, page: PageRequest): Promise<Page<Endpoint>>;
  /** Applies the changes if the endpoint is still at `expectedVersion`. */
  update(
    customerId: string,
    endpointId: string,
    expectedVersion: number,
    changes: EndpointChanges,
    actor: string,
    action: string,
  ): Promise<Endpoint>;
}

export interface LeaseStore {
  /** Takes the lease if it is free, expired, or already ours; throws LeaseHeldError otherwise. */
  acquire(partitionId: string, owner: LeaseOwner, ttlMs: number): Promise<Lease>;
  /** Extends the lease; throws StaleOwnerError if it has moved to another owner or epoch. */
  renew(token: LeaseToken, ttlMs: number): Promise<Lease>;
  /** Gives the lease up; throws StaleOwnerError if it is no longer ours. */
  release(token: LeaseToken): Promise<void>;
  get(partitionId: string): Promise<Lease | undefined>;
}

/** principal → customer, kept by the engine (never taken from the request body). */
export interface PrincipalDirectory {
  customerOf(principalArn: string): Promise<string | undefined>;
}

/** A file found at the source, with what makes its version distinct. */
export interface SourceFile {
  /** Path relative to the endpoint, as a job's sourcePath. */
  path: string;
  /** File name (relative to the listed folder), appended to the target folder. */
  name: string;
  size: number;
  modifiedAt?: number;
  version?: string;
}

/** A batch of small files that one worker task moves (core/control-plane/transfers/batches.ts plans them): its execution's input. */
export interface BatchInput {
  customerId: string;
  batchId: string;
  jobIds: string[];
}

/**
 * What a job's execution is started with: its key, and the two facts StartTransfer needs before it
 * has read the job (the partition to lease, the flow to claim it for), so it need not read it first.
 */
export type ExecutionJob = JobKey &
  Pick<TransferJob, 'partitionId' | 'flowType'> & {
    /**
     * A server-side copy's two endpoints as the request that created the job read and checked them: the
     * copy runs against them instead of reading them again. Absent (a restart by the reconciler, a
     * re-drive): the copy reads them when it starts.
     */
    endpoints?: EndpointPair;
  };

/** A job's source and target endpoints. */
export interface EndpointPair {
  source: Endpoint;
  target: Endpoint;
}

/** Starts state machine executions; starting one twice is harmless (the execution name is the job or batch id). */
export interface ExecutionStarter {
  start(job: ExecutionJob, options?: ExecutionOptions): Promise<void>;
  startBatch(batch: BatchInput, options?: ExecutionOptions): Promise<void>;
}

export interface ExecutionOptions {
  /**
   * The execution's name, when it is not the job's or batch's id: the reconciler's restart of a job whose
   * first execution ended (a name is refused for 90 days once used in a region).
   */
  name?: string;
}

/** What a destination holds now, as far as verification compares it with the result. */
export interface DestinationState {
  bytes: number;
  etag?: string;
  /** The object's SHA-256 checksum as S3 reports it (HeadObject with ChecksumMode ENABLED), if it has one. */
  checksum?: ObjectChecksum;
}

/** What a route or schedule is created with; the store adds createdAt, updatedAt and version. */
export type NewRoute = Omit<Route, 'createdAt' | 'updatedAt' | 'version'>;
export type NewSchedule = Omit<Schedule, 'createdAt' | 'updatedAt' | 'version'>;
export type RouteChanges = Partial<Omit<NewRoute, 'customerId' | 'routeId'>>;
export type ScheduleChanges = Partial<Omit<NewSchedule, 'customerId' | 'scheduleId'>>;

/** Routes per customer (the triggers table), with an audit event for every change. */
export interface RouteStore {
  create(route: NewRoute, actor: string): Promise<Route>;
  get(customerId: string, routeId: string): Promise<Route | undefined>;
  list(customerId: string, page: PageRequest): Promise<Page<Route>>;
  /** Applies the changes if the route is still at `expectedVersion` (ConflictError otherwise). */
  update(
    customerId: string,
    routeId: string,
    expectedVersion: number,
    changes: RouteChanges,
    actor: string,
    action: string,
  ): Promise<Route>;
  delete(customerId: string, routeId: string, actor: string): Promise<void>;
  /** Every customer's routes whose source endpoint's bucket is `bucket` (enabled or not): how an S3 event finds its routes. */
  routesForBucket(bucket: string): Promise<Route[]>;
}

/** Schedules per customer (the triggers table), with an audit event for every change. */
export interface ScheduleStore {
  create(schedule: NewSchedule, actor: string): Promise<Schedule>;
  get(customerId: string, scheduleId: string): Promise<Schedule | undefined>;
  list(customerId: string, page: PageRequest): Promise<Page<Schedule>>;
  update(
    customerId: string,
    scheduleId: string,
    expectedVersion: number,
    changes: ScheduleChanges,
    actor: string,
    action: string,
  ): Promise<Schedule>;
  delete(customerId: string, scheduleId: string, actor: string): Promise<void>;
  /** Enabled schedules due at `now` (nextRunAt <= now), earliest first, at most `limit`. */
  due(now: string, limit: number): Promise<Schedule[]>;
  /**
   * Claims the schedule's due run: moves nextRunAt from the value read to `next`, only if no one (the other
   * region's tick, a second tick) has moved it since. True when this caller claimed the run.
   */
  claimRun(schedule: Schedule, next: string): Promise<boolean>;
}

/**
 * Per S3 object key, the highest S3 event sequencer seen (the trigger-state
 * table): how route ingestion tells a re-ordered, older event from a newer or
 * a repeated one. Sequencers are hex strings of varying length; they compare
 * as numbers (left-padded to equal length).
 */
export interface ObjectEventMarks {
  /**
   * Raises the mark of `bucket`/`key` to `sequencer` unless it is already
   * higher: 'newer' when it moved (or was not set), 'same' when it already was
   * this sequencer (a duplicate or redelivery), 'stale' when a later event of
   * the key was seen first (nothing written).
   */
  advance(bucket: string, key: string, sequencer: string): Promise<'newer' | 'same' | 'stale'>;
}

/** A message set aside on a dead-letter queue, with why (a code) and details for the operator. */
export interface DeadLetter {
  body: string;
  reason: string;
  detail: string;
}

/** Where events the engine can never act on are set aside (an SQS dead-letter queue in AWS). */
export interface DeadLetters {
  send(letter: DeadLetter): Promise<void>;
}
