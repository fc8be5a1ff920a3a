import type { Context } from 'aws-lambda';
import {
  CopyInputSchema,
  FailBatchInputSchema,
  FailTransferInputSchema,
  LeasedJobInputSchema,
  StartTransferInputSchema,
} from '../../core/control-plane/tasks/schemas';
import { stateMachineTask } from '../../core/control-plane/tasks/task';
import { LeaseHeldError, ValidationError } from '../../core/domain/errors';
import { createLogger } from '../../core/observability/logger';

const LEASE = {
  partitionId: 'c1#ep_a#ep_b',
  executionId: 'arn:aws-us-gov:states:::execution:eft:job_1',
  region: 'us-gov-west-1',
  epoch: 2,
};
const START = { customerId: 'c1', jobId: 'job_1', executionId: LEASE.executionId };

/** A Lambda context as the runtime passes it (no getRemainingTimeInMillis: no early-timeout timer). */
const context = (awsRequestId = 'req-1') => ({ awsRequestId, functionName: 'eft-dev-startTransfer' }) as Context;

/** A task on a real logger whose lines are collected instead of written to stdout. */
function taskWith<S extends Parameters<typeof stateMachineTask>[0]>(schema: S, handle: (input: unknown) => Promise<unknown>) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ service: 'eft' }, (line) => lines.push(JSON.parse(line)));
  const handler = stateMachineTask(schema, (input) => handle(input), log);
  return { lines, invoke: (event: unknown, ctx = context()) => handler(event, ctx) };
}

describe('stateMachineTask', () => {
  it('hands the handler the parsed input and returns its result unchanged', async () => {
    const seen: unknown[] = [];
    const result = { action: 'RUN', customerId: 'c1', jobId: 'job_1', lease: LEASE, somethingNew: true };
    const task = taskWith(StartTransferInputSchema, async (input) => {
      seen.push(input);
      return result;
    });

    const output = await task.invoke({ ...START, unrelated: 'dropped' });

    expect(seen).toEqual([START]);
    expect(output).toBe(result);
  });

  it('refuses bad input with a ValidationError that names the field, before the handler runs', async () => {
    let called = false;
    const task = taskWith(LeasedJobInputSchema, async () => {
      called = true;
    });

    const error = await task.invoke({ customerId: 'c1', jobId: '', lease: { ...LEASE, epoch: '2' } }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).name).toBe('ValidationError');
    expect((error as ValidationError).issues.map((i) => i.field)).toEqual(['jobId', 'lease.epoch']);
    expect((error as Error).message).toContain('lease.epoch');
    expect(called).toBe(false);
  });

  it('names a missing field', async () => {
    const task = taskWith(StartTransferInputSchema, async () => ({}));

    const error = await task.invoke({ customerId: 'c1', jobId: 'job_1' }).catch((e: unknown) => e);

    expect((error as ValidationError).issues).toEqual([{ field: 'executionId', message: expect.any(String) }]);
  });

  it('rethrows a domain error under its own name, so the Retry on LeaseHeldError still matches', async () => {
    const task = taskWith(StartTransferInputSchema, async () => {
      throw new LeaseHeldError('c1#ep_a#ep_b', { ownerRegion: 'us-gov-east-1', expiresAt: 0 });
    });

    const error = await task.invoke(START).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LeaseHeldError);
    expect((error as Error).name).toBe('LeaseHeldError');
  });

  it("takes StartTransfer's whole output as the copy's input, and names the field of a claimed job that is not RUNNING", async () => {
    const seen: unknown[] = [];
    const task = taskWith(CopyInputSchema, async (input) => void seen.push(input));
    const claimed = { customerId: 'c1', jobId: 'job_1', sourceEndpointId: 'ep_a', targetEndpointId: 'ep_b', status: 'RUNNING' };
    const endpoints = {
      source: { customerId: 'c1', endpointId: 'ep_a', type: 'S3', s3: { bucket: 'a' } },
      target: { customerId: 'c1', endpointId: 'ep_b', type: 'S3', s3: { bucket: 'b' } },
    };
    const output = { action: 'RUN', customerId: 'c1', jobId: 'job_1', serverSideCopy: true, lease: LEASE, claimed, endpoints };

    await task.invoke(output);
    // Without either (an older StartTransfer, a job too large to carry): the copy reads them.
    await task.invoke({ customerId: 'c1', jobId: 'job_1', lease: LEASE });
    const error = await task.invoke({ ...output, claimed: { ...claimed, status: 'QUEUED' } }).catch((e: unknown) => e);

    // Records go through whole (every field of the endpoint), the rest of the state is dropped.
    expect(seen).toEqual([
      { customerId: 'c1', jobId: 'job_1', lease: LEASE, claimed, endpoints },
      { customerId: 'c1', jobId: 'job_1', lease: LEASE },
    ]);
    expect((error as ValidationError).issues.map((i) => i.field)).toEqual(['claimed.status']);
  });

  it('logs start and outcome once each, every line with the job, customer, execution and request ids', async () => {
    const task = taskWith(StartTransferInputSchema, async () => ({ action: 'SKIP' }));

    await task.invoke(START, context('req-42'));

    expect(task.lines.map((l) => l.message)).toEqual(['task started', 'task succeeded']);
    for (const line of task.lines) {
      expect(line).toMatchObject({ customerId: 'c1', jobId: 'job_1', executionId: LEASE.executionId, requestId: 'req-42' });
    }
  });

  it('takes the execution id from the lease when the input has no executionId of its own', async () => {
    const task = taskWith(LeasedJobInputSchema, async () => ({}));

    await task.invoke({ customerId: 'c1', jobId: 'job_1', lease: LEASE });

    expect(task.lines[0]).toMatchObject({ executionId: LEASE.executionId });
  });

  it('logs a batch task with its batch id', async () => {
    const task = taskWith(FailBatchInputSchema, async () => ({ failed: 0 }));

    await task.invoke({ customerId: 'c1', batchId: 'batch_1', jobIds: ['job_1'], lease: null });

    expect(task.lines).toHaveLength(2);
    expect(task.lines[1]).toMatchObject({ customerId: 'c1', batchId: 'batch_1', message: 'task succeeded' });
  });

  it('logs a failure once, with its error name and code and the ids', async () => {
    const task = taskWith(StartTransferInputSchema, async () => {
      throw new LeaseHeldError('c1#ep_a#ep_b', { ownerRegion: 'us-gov-east-1', expiresAt: 0 });
    });

    await task.invoke(START).catch(() => undefined);

    expect(task.lines.map((l) => l.message)).toEqual(['task started', 'task failed']);
    expect(task.lines[1]).toMatchObject({
      level: 'WARN',
      error: 'LeaseHeldError',
      code: 'LEASE_HELD',
      jobId: 'job_1',
      requestId: 'req-1',
    });
  });

  it('logs a refused input with the ids it could read and the code VALIDATION_FAILED', async () => {
    const task = taskWith(StartTransferInputSchema, async () => ({}));

    await task.invoke({ customerId: 'c1', jobId: 'job_1' }).catch(() => undefined);

    expect(task.lines.at(-1)).toMatchObject({ message: 'task failed', code: 'VALIDATION_FAILED', jobId: 'job_1' });
  });

  it('takes the whole state FailTransfer gets after a failed copy (the start task output plus the error)', async () => {
    const seen: unknown[] = [];
    const task = taskWith(FailTransferInputSchema, async (input) => {
      seen.push(input);
      return { failed: true };
    });
    const error = { Error: 'TargetExistsError', Cause: '{"errorMessage":"a different object"}' };

    const state = { action: 'RUN', customerId: 'c1', jobId: 'job_1', flowType: 'S3_TO_S3', lease: LEASE, job: START, error };
    await task.invoke(state);

    expect(seen).toEqual([{ customerId: 'c1', jobId: 'job_1', lease: LEASE, error }]);
  });

  it('writes none of the input beyond its ids', async () => {
    const task = taskWith(FailTransferInputSchema, async () => ({ failed: true }));

    await task.invoke({
      customerId: 'c1',
      jobId: 'job_1',
      lease: LEASE,
      error: { Error: 'States.TaskFailed', Cause: 'the private details of a failure' },
    });

    const written = JSON.stringify(task.lines);
    expect(written).not.toContain('the private details');
    expect(written).not.toContain(LEASE.partitionId);
  });
});
