import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { EftError, ValidationError } from '../../domain/errors';
import { childLogger, type Logger, logger } from '../../observability/logger';

/** What a task's handler gets besides its input: a logger whose every line carries the task's ids. */
export interface TaskContext {
  log: Logger;
  requestId: string;
}

/**
 * The one middleware stack of every state machine task (the counterpart of
 * httpApi): a logger with the task's correlation ids, one line when it starts
 * and one with its outcome, and the input checked against `schema` before the
 * handler sees it. Errors are rethrown as they are: the state machine's
 * Retry/Catch match on their names (LeaseHeldError, TransientError, …).
 * `base` is the logger the lines go to (tests hand one that collects them).
 */
export function stateMachineTask<S extends z.ZodType, Result>(
  schema: S,
  handle: (input: z.output<S>, task: TaskContext) => Promise<Result>,
  base: Logger = logger,
) {
  const loggers = new WeakMap<Context, Logger>();
  return middy<unknown, Result, Error, Context>()
    .use(taskLog(base, loggers))
    .handler((event, context) => {
      const log = loggers.get(context);
      if (!log) throw new Error('the task logger was not set up before the handler');
      return handle(parseTaskInput(schema, event), { log, requestId: context.awsRequestId });
    });
}

/** A failed parse becomes a ValidationError naming every bad field (`lease.epoch`), never echoing a value. */
export function parseTaskInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.map((issue) => ({ field: issue.path.map(String).join('.') || 'input', message: issue.message })),
  );
}

/**
 * Start and outcome, once each, on a logger that carries the ids. The ids are
 * read from the raw input, so a task refused for bad input is still traceable.
 * Only ids, durations and error names/codes are written, never the input.
 */
function taskLog(base: Logger, loggers: WeakMap<Context, Logger>): middy.MiddlewareObj<unknown, unknown, Error, Context> {
  const started = new WeakMap<Context, number>();
  const durationMs = (context: Context) => Date.now() - (started.get(context) ?? Date.now());
  return {
    before: ({ event, context }) => {
      const log = childLogger(base, { task: context.functionName, ...correlationIds(event), requestId: context.awsRequestId });
      loggers.set(context, log);
      started.set(context, Date.now());
      log.info('task started');
    },
    after: ({ context }) => {
      loggers.get(context)?.info('task succeeded', { durationMs: durationMs(context) });
    },
    onError: ({ context, error }) => {
      // An engine error is an outcome the state machine handles (it retries a
      // held lease, fails the job); anything else is a defect worth an alarm.
      const known = error instanceof EftError;
      loggers.get(context)?.[known ? 'warn' : 'error']('task failed', {
        durationMs: durationMs(context),
        error: error?.name,
        code: known ? error.code : undefined,
        reason: error?.message,
      });
    },
  };
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
