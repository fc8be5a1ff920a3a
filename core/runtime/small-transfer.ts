/**
 * The small-file fast path (statemachines/transfer.yml, RunSmallTransfer): one
 * job's SFTP legs run in a Lambda function instead of a Fargate task, by the
 * worker's own code (runTransfer: streaming, SHA-256, .tmp → rename, the
 * fenced job writes and the lease heartbeat of Liveness). Only what the
 * process around it does differs: the worker's SIGTERM becomes the function's
 * deadline.
 *
 * When the function runs out of time. Its deadline (the time Lambda gives the
 * invocation, less DEADLINE_MARGIN_MS) aborts the transfer as SIGTERM aborts
 * the worker's: the temporary file is deleted, an open multipart upload
 * aborted, lastError STOPPED recorded, and the task fails with
 * FastPathDeadlineError, on which the state machine hands the same job, under
 * the same lease, to the worker (which resumes from the checkpoint). If Lambda
 * kills the invocation at its timeout first (a call that blocked past the
 * margin), the runtime is torn down with the invocation: nothing of it writes
 * again, as with a worker task killed outright. A `.tmp` it left is the
 * re-drive chain's temporary name, which the worker reuses and renames only
 * once complete and hashed; an orphaned multipart upload is in the checkpoint
 * and aborted by the next run. The state's TimeoutSeconds is longer than the
 * function's timeout, so Step Functions never moves on while an invocation
 * could still be writing. Nothing is visible at the final name before the
 * rename, and only one write moves the job RUNNING → VERIFYING, so the file
 * is delivered once whichever of the two finishes it.
 */
import { z } from 'zod';
import { requireEnv } from '../adapters/config';
import { networkPolicyFromEnv } from '../adapters/net/network-policy';
import { configurationError, TUNABLE_VARIABLES, tunablesOf } from '../data-plane/config';
import { type Delivery, runTransfer, type WorkerDeps } from '../data-plane/run-transfer';
import type { LeaseToken } from '../domain/lease';
import type { JobKey } from '../domain/ports';
import { StoppedError } from '../domain/transfer/errors';
import type { Logger } from '../observability/logger';
import { buildWorkerDeps } from './worker-deps';

/**
 * Time kept back from the invocation's for stopping cleanly: the worker's SIGTERM path (delete the
 * temporary file, bounded to 5 s; abort a multipart upload; record lastError) and the answer.
 */
export const DEADLINE_MARGIN_MS = 20_000;

/** The fast path ran out of its function's time; the state machine hands the job to the worker (not a failure). */
export class FastPathDeadlineError extends StoppedError {
  constructor() {
    super('the small-file fast path ran out of its function time; the worker takes the job over');
  }
}

export type SmallTransferDeps = Omit<WorkerDeps, 'logger'>;

/** The worker's dependencies, from a function's environment (provider.environment and the EFT_* tunables). */
export function buildSmallTransfer(env: NodeJS.ProcessEnv = process.env): SmallTransferDeps {
  const tunables = z.object(TUNABLE_VARIABLES).safeParse(env);
  if (!tunables.success) throw configurationError(tunables.error);
  return buildWorkerDeps(env, {
    config: tunablesOf(tunables.data),
    networkPolicy: networkPolicyFromEnv(env),
    staging: { bucket: requireEnv('STAGING_BUCKET', env), owner: requireEnv('ENGINE_ACCOUNT_ID', env) },
  });
}

/**
 * Runs one RUNNING job under `lease` until it is delivered (RUNNING → VERIFYING with its result), or
 * until `remainingMs()` falls to DEADLINE_MARGIN_MS (FastPathDeadlineError). Every other outcome is
 * runTransfer's: LeaseLostError (nothing recorded), or the failure recorded as lastError.
 */
export async function runSmallTransfer(
  deps: SmallTransferDeps,
  logger: Logger,
  input: JobKey & { lease: LeaseToken },
  remainingMs: () => number,
): Promise<Delivery> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => {
      logger.warn('the function is about to time out: stopping the transfer for the worker to take over');
      controller.abort(new FastPathDeadlineError());
    },
    Math.max(0, remainingMs() - DEADLINE_MARGIN_MS),
  );
  try {
    return await runTransfer({ ...deps, logger }, { customerId: input.customerId, jobId: input.jobId }, input.lease, {
      signal: controller.signal,
    });
  } finally {
    clearTimeout(timer);
  }
}
