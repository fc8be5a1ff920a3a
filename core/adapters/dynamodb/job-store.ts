import {
  type AttributeValue,
  BatchGetItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AuditEvent } from '../../domain/audit';
import type { Clock } from '../../domain/clock';
import { ConflictError, IllegalTransitionError, NotFoundError, StaleOwnerError, TransientError } from '../../domain/errors';
import { sha256Hex } from '../../domain/ids';
import {
  activeShardOf,
  ENTERED_FROM,
  isTerminal,
  type JobStatus,
  type JobWork,
  jobIdFor,
  partitionIdFor,
  type TransferJob,
} from '../../domain/job';
import type { LeaseToken } from '../../domain/lease';
import { inParallel } from '../../domain/parallel';
import type {
  ActiveJob,
  ActivePage,
  AuditLog,
  ChangeOrigin,
  CreatedJob,
  JobKey,
  JobStore,
  NewJob,
  Page,
  PageRequest,
  TransitionOptions,
} from '../../domain/ports';
import type { AfterTransferOutcome } from '../../domain/triggers';
import { isConditionFailed, sendUntilProcessed } from './client';
import { CursorCodec } from './pagination';

/** GSI that lists a customer's jobs by the request that created them. */
const BY_REQUEST_INDEX = 'byRequest';

const UNSTARTED: readonly JobStatus[] = ['RECEIVED', 'QUEUED'];

/** Sparse GSI of the jobs not yet ended (activeShard), for the reconciler. */
const BY_ACTIVE_INDEX = 'byActive';

/** Conditional puts in flight at once when a request creates many jobs. */
const CREATE_CONCURRENCY = 16;

/** Keys per BatchGetItem (DynamoDB's limit), and rounds for the keys it leaves unprocessed. */
const BATCH_GET_KEYS = 100;
const UNPROCESSED_ROUNDS = 5;

function fingerprint(job: NewJob): string {
  return sha256Hex(
    JSON.stringify([job.sourceEndpointId, job.sourcePath, job.targetEndpointId, job.targetPath, job.policyId ?? null]),
  );
}

/**
 * Jobs in DynamoDB with single-item conditional writes only (global tables do not
 * make transactions atomic across regions):
 * - the job id is derived from customer + idempotency key, so creation is one
 *   conditional put and concurrent duplicates collapse onto one item;
 * - each transition is conditional on the current status being one the target may
 *   be entered from, and (under a lease) on no newer fencing epoch having written.
 */
export class DynamoJobStore implements JobStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly cursors: CursorCodec = CursorCodec.forThisProcessOnly(),
  ) {}

  async create(input: NewJob, origin: ChangeOrigin, options: { queued?: boolean } = {}): Promise<CreatedJob> {
    const [outcome] = await this.createMany([input], origin, options);
    return outcome as CreatedJob;
  }

  async createMany(inputs: readonly NewJob[], origin: ChangeOrigin, options: { queued?: boolean } = {}): Promise<CreatedJob[]> {
    // Every put is tried, and the jobs created get their audit events even when another put failed.
    const settled = await inParallel(inputs, CREATE_CONCURRENCY, (input) =>
      this.put(input, origin, options).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
    );
    const outcomes = settled.filter((s): s is CreatedJob => !(s instanceof Error));
    // The events of each job in the order of its history: the audit trail orders them by a time-ordered id.
    await this.audit.appendAll(
      outcomes
        .filter((outcome) => outcome.created)
        .flatMap(({ job }) =>
          job.transitions.map(({ status }) => ({
            subject: `job#${job.jobId}` as const,
            customerId: job.customerId,
            actor: origin.actor,
            action: status === 'RECEIVED' ? 'job.created' : `job.${status.toLowerCase()}`,
            at: job.createdAt,
          })),
        ),
    );
    const failure = settled.find((s) => s instanceof Error);
    if (failure) throw failure;
    return outcomes;
  }

  /** One conditional put: the job, or the one that already has its idempotency key. */
  private async put(input: NewJob, { actor, region }: ChangeOrigin, options: { queued?: boolean }): Promise<CreatedJob> {
    const now = new Date(this.clock.now()).toISOString();
    const statuses: JobStatus[] = options.queued ? ['RECEIVED', 'QUEUED'] : ['RECEIVED'];
    const job: TransferJob = {
      ...input,
      jobId: jobIdFor(input.customerId, input.idempotencyKey),
      partitionId: partitionIdFor(input.customerId, input.sourceEndpointId, input.targetEndpointId),
      requestFingerprint: fingerprint(input),
      status: statuses.at(-1) as JobStatus,
      attempts: 0,
      createdAt: now,
      updatedAt: now,
      transitions: statuses.map((status) => ({ status, at: now, region, actor })),
    };
    const item = {
      ...job,
      activeShard: activeShardOf(job.jobId),
      ...(job.requestId ? { requestKey: `${job.customerId}#${job.requestId}` } : {}),
    };
    try {
      await this.db.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall(item, { removeUndefinedValues: true }),
          ConditionExpression: 'attribute_not_exists(jobId)',
        }),
      );
      return { job, created: true };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const existing = await this.get(job);
      if (!existing) throw error; // cannot happen: the condition failed because the item exists
      if (existing.requestFingerprint !== job.requestFingerprint) {
        throw new ConflictError('the idempotency key was already used for a different transfer', 'IDEMPOTENCY_KEY_REUSED');
      }
      return { job: existing, created: false };
    }
  }

  async get(key: JobKey): Promise<TransferJob | undefined> {
    const result = await this.db.send(
      new GetItemCommand({
        TableName: this.table,
        Key: marshall({ customerId: key.customerId, jobId: key.jobId }),
        ConsistentRead: true,
      }),
    );
    return result.Item ? toJob(result.Item) : undefined;
  }

  async getMany(keys: readonly JobKey[]): Promise<TransferJob[]> {
    const unique = new Map(keys.map(({ customerId, jobId }) => [`${customerId}/${jobId}`, { customerId, jobId }]));
    const marshalled = [...unique.values()].map((key) => marshall(key));
    const found: TransferJob[] = [];
    for (let start = 0; start < marshalled.length; start += BATCH_GET_KEYS) {
      await sendUntilProcessed(
        marshalled.slice(start, start + BATCH_GET_KEYS),
        async (pending) => {
          const result = await this.db.send(
            new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
          );
          found.push(...(result.Responses?.[this.table] ?? []).map(toJob));
          return result.UnprocessedKeys?.[this.table]?.Keys;
        },
        UNPROCESSED_ROUNDS,
        (left) => new TransientError(`DynamoDB left ${left} job reads unprocessed`),
      );
    }
    return found;
  }

  async transition(key: JobKey, to: JobStatus, options: TransitionOptions): Promise<TransferJob> {
    const now = new Date(this.clock.now()).toISOString();
    // The states entered, in order: `through` (e.g. VERIFYING), then `to`; each must follow the one before.
    const path = [...(options.through ?? []), to];
    path.slice(1).forEach((status, i) => {
      const before = path[i] as JobStatus;
      if (!ENTERED_FROM[status].includes(before)) throw new IllegalTransitionError(key.jobId, before, status);
    });
    const first = path[0] as JobStatus;
    // A started job is cancelled only under its partition's lease (its execution is gone: orphans.ts).
    const from = first === 'CANCELLED' && !options.fence ? UNSTARTED : ENTERED_FROM[first];
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {
      ':to': to,
      ':now': now,
      ':transition': path.map((status) => ({ status, at: now, region: options.region, actor: options.actor })),
    };
    const sets = ['#status = :to', 'updatedAt = :now', 'transitions = list_append(transitions, :transition)'];
    from.forEach((status, i) => {
      values[`:from${i}`] = status;
    });
    const conditions = [
      from.length ? `#status IN (${from.map((_, i) => `:from${i}`).join(', ')})` : 'attribute_not_exists(jobId)',
    ];

    const running = path.includes('RUNNING');
    if (running) {
      sets.push('startedAt = if_not_exists(startedAt, :now)', 'executionRegion = :region', 'attempts = attempts + :one');
      values[':region'] = options.region;
      values[':one'] = 1;
    }
    const removed = removedAttributes(options.work);
    if (isTerminal(to)) {
      sets.push('completedAt = :now');
      // Out of the byActive index: an ended job is nothing for the reconciler.
      removed.push('activeShard');
    }
    if (options.errorCode) {
      sets.push('errorCode = :errorCode', 'errorMessage = :errorMessage');
      values[':errorCode'] = options.errorCode;
      values[':errorMessage'] = options.errorMessage ?? options.errorCode;
    }
    if (options.work) sets.push(...assignWork(options.work, names, values));
    const events = path.map((status) => ({
      subject: `job#${key.jobId}` as const,
      customerId: key.customerId,
      actor: options.actor,
      action: `job.${status.toLowerCase()}`,
      at: now,
      ...(status === to && options.errorCode ? { details: { errorCode: options.errorCode } } : {}),
    }));
    const deferred = options.auditWithEnd === true && !isTerminal(to);
    if (deferred) {
      // Kept on the item (never in the job as read), for the terminal write to write.
      sets.push('auditPending = list_append(if_not_exists(auditPending, :none), :events)');
      values[':none'] = [];
      values[':events'] = events;
    }
    if (options.fence) {
      sets.push('fenceEpoch = :epoch');
      values[':epoch'] = options.fence.epoch;
      if (running) {
        sets.push('runningExecutionId = :execution');
        values[':execution'] = options.fence.executionId;
      }
      conditions.push('(attribute_not_exists(fenceEpoch) OR fenceEpoch <= :epoch)');
    }

    let job: TransferJob;
    let pending: AuditEvent[] = [];
    try {
      const result = await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall({ customerId: key.customerId, jobId: key.jobId }),
          UpdateExpression: `SET ${sets.join(', ')}${removeClause(removed)}`,
          ConditionExpression: `attribute_exists(jobId) AND ${conditions.join(' AND ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      job = toJob(result.Attributes ?? {});
      if (isTerminal(to)) pending = (unmarshall(result.Attributes ?? {}).auditPending as AuditEvent[] | undefined) ?? [];
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      throw await this.explainRefusal(key, first, options);
    }
    // One event per state entered, after those kept for this terminal write, written together (the
    // audit log batches them with other jobs'). A terminal write is the job's last: nothing is left kept.
    if (!deferred) await this.audit.appendAll([...pending, ...events]);
    return job;
  }

  async recordWork(key: JobKey, fence: LeaseToken, work: JobWork): Promise<TransferJob> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {
      ':running': 'RUNNING',
      ':epoch': fence.epoch,
      ':now': new Date(this.clock.now()).toISOString(),
    };
    const sets = ['updatedAt = :now', ...assignWork(work, names, values)];
    try {
      const result = await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall({ customerId: key.customerId, jobId: key.jobId }),
          UpdateExpression: `SET ${sets.join(', ')}${removeClause(removedAttributes(work))}`,
          ConditionExpression: '#status = :running AND (attribute_not_exists(fenceEpoch) OR fenceEpoch <= :epoch)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toJob(result.Attributes ?? {});
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      throw await this.explainRefusal(key, 'RUNNING', { actor: 'data-plane', region: fence.region, fence });
    }
  }

  async resume(key: JobKey, fence: LeaseToken, actor: string): Promise<TransferJob> {
    const now = new Date(this.clock.now()).toISOString();
    try {
      const result = await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall({ customerId: key.customerId, jobId: key.jobId }),
          UpdateExpression:
            // The interrupted attempt's reason (lastError STOPPED…) is not this attempt's.
            'SET fenceEpoch = :epoch, runningExecutionId = :execution, executionRegion = :region, attempts = attempts + :one, updatedAt = :now REMOVE lastError',
          ConditionExpression: '#status = :running AND (attribute_not_exists(fenceEpoch) OR fenceEpoch <= :epoch)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: marshall({
            ':running': 'RUNNING',
            ':epoch': fence.epoch,
            ':region': fence.region,
            ':execution': fence.executionId,
            ':one': 1,
            ':now': now,
          }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      const job = toJob(result.Attributes ?? {});
      await this.audit.append({
        subject: `job#${job.jobId}`,
        customerId: job.customerId,
        actor,
        action: 'job.resumed',
        at: now,
        details: { region: fence.region, epoch: fence.epoch },
      });
      return job;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      throw await this.explainRefusal(key, 'RUNNING', { actor, region: fence.region, fence });
    }
  }

  async listActive(shard: string, after?: ActivePage['next']): Promise<ActivePage> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: BY_ACTIVE_INDEX,
        KeyConditionExpression: 'activeShard = :shard',
        ExpressionAttributeValues: marshall({ ':shard': shard }),
        ...(after ? { ExclusiveStartKey: after as Record<string, AttributeValue> } : {}),
      }),
    );
    const jobs = (result.Items ?? []).map((item) => {
      const { customerId, jobId, partitionId, status } = unmarshall(item) as ActiveJob;
      return { customerId, jobId, partitionId, status };
    });
    return { jobs, ...(result.LastEvaluatedKey ? { next: result.LastEvaluatedKey } : {}) };
  }

  async list(
    customerId: string,
    filter: { status?: JobStatus; requestId?: string },
    page: PageRequest,
  ): Promise<Page<TransferJob>> {
    const values: Record<string, unknown> = {};
    let keyCondition: string;
    if (filter.requestId) {
      keyCondition = 'requestKey = :requestKey';
      values[':requestKey'] = `${customerId}#${filter.requestId}`;
    } else {
      keyCondition = 'customerId = :customerId';
      values[':customerId'] = customerId;
    }
    if (filter.status) values[':status'] = filter.status;
    // A cursor continues the listing it came from: the same index, request and status.
    const scope = {
      customerId,
      listing: JSON.stringify(['jobs', filter.requestId ?? null, filter.status ?? null]),
    };
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        ...(filter.requestId ? { IndexName: BY_REQUEST_INDEX } : {}),
        KeyConditionExpression: keyCondition,
        ...(filter.status ? { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } } : {}),
        ExpressionAttributeValues: marshall(values),
        Limit: page.limit,
        ExclusiveStartKey: await this.cursors.decode(scope, page.cursor),
      }),
    );
    const nextCursor = await this.cursors.encode(scope, result.LastEvaluatedKey);
    return { items: (result.Items ?? []).map(toJob), ...(nextCursor ? { nextCursor } : {}) };
  }

  /**
   * The outcome of the job's after-transfer action (a schedule's DELETE or MOVE on the source): one
   * conditional update of `afterTransfer` only (never the status, so a SUCCEEDED job stays SUCCEEDED), on
   * a job that has an action, and an audit event.
   */
  async recordAfterTransfer(key: JobKey, outcome: AfterTransferOutcome, actor: string): Promise<TransferJob> {
    const now = new Date(this.clock.now()).toISOString();
    try {
      const result = await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall({ customerId: key.customerId, jobId: key.jobId }),
          UpdateExpression: 'SET afterTransfer = :outcome, updatedAt = :now',
          ConditionExpression: 'attribute_exists(jobId) AND attribute_exists(afterTransfer)',
          ExpressionAttributeValues: marshall({ ':outcome': outcome, ':now': now }, { removeUndefinedValues: true }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      const job = toJob(result.Attributes ?? {});
      await this.audit.append({
        subject: `job#${job.jobId}`,
        customerId: job.customerId,
        actor,
        action: `job.after_transfer.${outcome.status.toLowerCase()}`,
        at: now,
        details: {
          action: outcome.action,
          attempts: outcome.attempts,
          ...(outcome.lastError ? { errorCode: outcome.lastError.code } : {}),
        },
      });
      return job;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      throw new NotFoundError(`job ${key.jobId} not found, or it has no after-transfer action`);
    }
  }

  /** Turns a failed condition into the error that says why. */
  private async explainRefusal(key: JobKey, to: JobStatus, options: TransitionOptions): Promise<Error> {
    const current = await this.get(key);
    if (!current) return new NotFoundError(`job ${key.jobId} not found`);
    if (options.fence && (current.fenceEpoch ?? 0) > options.fence.epoch) {
      return new StaleOwnerError(
        `job ${key.jobId} was written under lease epoch ${current.fenceEpoch}; epoch ${options.fence.epoch} is stale`,
      );
    }
    return new IllegalTransitionError(key.jobId, current.status, to);
  }
}

/** SET clauses for the fields of `work` (their names and values added to the expression's). */
function assignWork(work: JobWork, names: Record<string, string>, values: Record<string, unknown>): string[] {
  return Object.entries(work)
    .filter(([, value]) => value !== undefined)
    .map(([field, value], i) => {
      names[`#w${i}`] = field;
      values[`:w${i}`] = value;
      return `#w${i} = :w${i}`;
    });
}

/** A result without an error clears the error an earlier attempt recorded. */
function removedAttributes(work: JobWork | undefined): string[] {
  return work?.result && !work.lastError ? ['lastError'] : [];
}

function removeClause(attributes: string[]): string {
  return attributes.length ? ` REMOVE ${attributes.join(', ')}` : '';
}

function toJob(item: Record<string, AttributeValue>): TransferJob {
  const { requestKey: _requestKey, activeShard: _activeShard, auditPending: _auditPending, ...job } = unmarshall(item);
  return job as TransferJob;
}
