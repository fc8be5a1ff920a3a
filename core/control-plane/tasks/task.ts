import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { EftError, ValidationError } from '../../domain/errors';
import { withInvocationLogger } from '../../observability/invocation';
import { type Logger, logger } from '../../observability/logger';

/** What a task's handler gets besides its input: a logger whose every line carries the task's ids. */
export interface TaskContext {
  log: Logger;
  requestId: string;
  /** The time left before Lambda ends the invocation (its context's getRemainingTimeInMillis). */
  remainingMs: () => number;
}

/**
 * The one wrapper of every state machine task (the counterpart of httpApi): a
 * logger with the task's correlation ids (Powertools' Lambda context, the
 * request id, and the job or batch, customer and execution ids: on every line
 * the task writes, the domain's too), one line when it starts and one with
 * its outcome, and the input checked against `schema` before the handler sees it. Errors are rethrown as they are: the state machine's
 * Retry/Catch match on their names (LeaseHeldError, TransientError, …).
 * `base` is the logger the lines go to (tests hand one that collects them).
 */
export function stateMachineTask<S extends z.ZodType, Result>(
  schema: S,
  handle: (input: z.output<S>, task: TaskContext) => Promise<Result>,
  base: Logger = logger,
) {
  // The ids come from the raw input, so a task refused for bad input is still traceable.
  const run = withInvocationLogger<unknown, Result>(
    async (event, context, log) => {
      const startedAt = Date.now();
      log.info('task started');
      try {
        const result = await handle(parseTaskInput(schema, event), {
          log,
          requestId: context.awsRequestId,
          remainingMs: () => context.getRemainingTimeInMillis(),
        });
        log.info('task succeeded', { durationMs: Date.now() - startedAt });
        return result;
      } catch (error) {
        logFailure(log, error, Date.now() - startedAt);
        throw error;
      }
    },
    correlationIds,
    base,
  );
  return middy<unknown, Result, Error, Context>().handler(run);
}

/** A failed parse becomes a ValidationError naming every bad field (`lease.epoch`), never echoing a value. */
export function parseTaskInput<S extends z.ZodType>(schema: S, input: unknown, rootField = 'input'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.map((issue) => ({ field: issue.path.map(String).join('.') || rootField, message: issue.message })),
  );
}

/**
 * One line for a failed task: ids, duration and the error's name and code,
 * never the input. An engine error is an outcome the state machine handles
 * (it retries a held lease, fails the job); anything else is a defect worth an alarm.
 */
function logFailure(log: Logger, error: unknown, durationMs: number): void {
  const known = error instanceof EftError;
  log[known ? 'warn' : 'error']('task failed', {
    durationMs,
    error: (error as Error | undefined)?.name,
    code: known ? error.code : undefined,
    reason: (error as Error | undefined)?.message,
  });
}

/** The ids that tie a log line to its job or batch, customer and execution: whichever the input has. */
function correlationIds(event: unknown): Record<string, string> {
  const input = asRecord(event);
  const ids = {
    customerId: input.customerId,
    jobId: input.jobId,
    batchId: input.batchId,
    // A lease token names the execution that holds it (the later tasks get no executionId of their own).
    executionId: input.executionId ?? asRecord(input.lease).executionId,
  };
  return Object.fromEntries(Object.entries(ids).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}
