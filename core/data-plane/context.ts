import type { RetryOptions, RetryPolicy } from '../domain/transfer/retry';
import type { Logger } from '../observability/logger';
import type { WorkerConfig } from './config';
import type { Liveness } from './liveness';

/** What every hop of a transfer shares: tunables, the abort signal, logging and the lease's liveness. */
export interface HopContext {
  config: WorkerConfig;
  /** Aborted on SIGTERM (StoppedError) or when the lease is lost (LeaseLostError). */
  signal: AbortSignal;
  logger: Logger;
  liveness: Liveness;
}

export function retryPolicyOf(config: WorkerConfig): RetryPolicy {
  return { maxAttempts: config.maxAttempts, baseMs: config.retryBaseMs, maxMs: config.retryMaxMs };
}

/** Retry options that log each retry under `what`. */
export function retryOptions(ctx: HopContext, what: string, progressed?: () => boolean): RetryOptions {
  return {
    signal: ctx.signal,
    ...(progressed ? { progressed } : {}),
    onRetry: (error, attempt, delayMs) =>
      ctx.logger.warn('retrying after a transient failure', { what, code: error.code, error: error.message, attempt, delayMs }),
  };
}
