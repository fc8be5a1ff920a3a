import type { Context } from 'aws-lambda';
import { type Logger, logger, portFor, powertoolsOf, runWithLogger } from './logger';

/** The keys that tie a log line to its job (or batch), customer, Step Functions execution and request. */
export interface CorrelationKeys {
  jobId?: string;
  batchId?: string;
  customerId?: string;
  executionId?: string;
  [key: string]: unknown;
}

/**
 * Runs one Lambda invocation with a logger of its own: a child of `base`'s
 * Powertools logger given the Lambda context (function name, request id, cold
 * start: what Powertools' injectLambdaContext adds) and the invocation's
 * correlation keys, requestId (the Lambda request id) first. Every line the
 * invocation writes, through the returned logger or through `logger` (what the
 * domain's dependencies hold), carries them; nothing outlives the invocation.
 * This wraps the whole handler (its Middy middleware too) rather than appending
 * keys to the one shared logger, because invocations overlap in the local
 * runtime (see runWithLogger).
 */
export function withInvocationLogger<Event, Result>(
  handler: (event: Event, context: Context, log: Logger) => Promise<Result>,
  keysOf: (event: Event, context: Context) => CorrelationKeys = () => ({}),
  base: Logger = logger,
): (event: Event, context: Context) => Promise<Result> {
  return (event, context) => {
    const child = powertoolsOf(base).createChild();
    child.addContext(context);
    child.appendKeys(defined({ requestId: context.awsRequestId, ...keysOf(event, context) }));
    return runWithLogger(child, () => handler(event, context, portFor(child)));
  };
}

/** Adds keys to the current invocation's lines from here on (ids learnt while handling it, e.g. a created job's). */
export function appendCorrelationKeys(keys: CorrelationKeys, base: Logger = logger): void {
  powertoolsOf(base).appendKeys(defined(keys));
}

function defined(keys: CorrelationKeys): Record<string, string | number | boolean | string[]> {
  return Object.fromEntries(Object.entries(keys).filter(([, v]) => v !== undefined && v !== null)) as Record<
    string,
    string | number | boolean | string[]
  >;
}

/** Runs `work` with a child of the current logger that adds `keys` (one message of a batch, say). */
export function withCorrelationKeys<T>(keys: CorrelationKeys, work: () => T, base: Logger = logger): T {
  const child = powertoolsOf(base).createChild();
  child.appendKeys(defined(keys));
  return runWithLogger(child, work);
}
