import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../logger';
import { type TransferError, toTransferError } from './errors';
import type { WorkerConfig } from './tunables';

export interface RetryPolicy {
  /** Failed attempts in a row without progress before giving up. */
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
}

export interface RetryOptions {
  signal: AbortSignal;
  /** True if the attempt that just failed moved the transfer forward: the count of failures starts again. */
  progressed?: () => boolean;
  onRetry?: (error: TransferError, attempt: number, delayMs: number) => void;
}

/** Throws the reason the signal was aborted with (a StoppedError or LeaseLostError), if it was. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw toTransferError(signal.reason);
}

/** Waits `ms`, or rejects with the abort reason as soon as the signal is aborted. */
export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    if (signal.aborted) throw toTransferError(signal.reason);
    throw err;
  }
}

/**
 * Runs `attempt` until it succeeds, retrying transient failures (TransferError
 * with retryable) with exponential backoff and jitter. A long transfer that
 * keeps making progress between connection drops is not failed for the
 * number of drops, only for `maxAttempts` failures in a row without progress.
 * Permanent failures and aborts are thrown at once.
 */
export async function retrying<T>(policy: RetryPolicy, options: RetryOptions, attempt: () => Promise<T>): Promise<T> {
  let failures = 0;
  for (;;) {
    throwIfAborted(options.signal);
    try {
      return await attempt();
    } catch (err) {
      throwIfAborted(options.signal);
      const error = toTransferError(err);
      if (!error.retryable) throw error;
      failures = options.progressed?.() ? 1 : failures + 1;
      if (failures >= policy.maxAttempts) throw error;
      // Full backoff in [50%, 100%] of the exponential step, so parallel workers spread out.
      const step = Math.min(policy.maxMs, policy.baseMs * 2 ** (failures - 1));
      const wait = Math.round(step * (0.5 + Math.random() / 2));
      options.onRetry?.(error, failures, wait);
      await sleep(wait, options.signal);
    }
  }
}

/** What retries within a transfer go by: its signal, its logger and the worker's retry tunables. */
export interface RetryScope {
  signal: AbortSignal;
  logger: Logger;
  tunables: Pick<WorkerConfig, 'maxAttempts' | 'retryBaseMs' | 'retryMaxMs'>;
}

/** `retrying` under the transfer's policy, logging each retry of `what`. */
export function retryingIn<T>(
  scope: RetryScope,
  what: string,
  attempt: () => Promise<T>,
  progressed?: () => boolean,
): Promise<T> {
  const { tunables, logger } = scope;
  return retrying(
    { maxAttempts: tunables.maxAttempts, baseMs: tunables.retryBaseMs, maxMs: tunables.retryMaxMs },
    {
      signal: scope.signal,
      ...(progressed ? { progressed } : {}),
      onRetry: (error, attempt, delayMs) =>
        logger.warn('retrying after a transient failure', { what, code: error.code, error: error.message, attempt, delayMs }),
    },
    attempt,
  );
}
