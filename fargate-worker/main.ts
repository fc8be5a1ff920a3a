/**
 * Entry point of the Fargate transfer worker (one ECS task per job, or per
 * batch of small files, started by the state machine with RunTask; locally a
 * child process).
 *
 * Environment (checked at once by WorkerSettingsSchema, fargate-worker/settings.ts):
 * the functions' variables (tables, STAGING_BUCKET, AWS_REGION, PEER_REGION,
 * EFT_ALLOWED_NETWORKS, SECRETS_KMS_KEY_ID or EFT_LOCAL_SECRETS_DIR,
 * AWS_ENDPOINT_URL_* locally), the EFT_* tunables, and two container overrides:
 *   EFT_JOB   = {"customerId":"…","jobId":"…"}
 *     or EFT_BATCH_EXECUTION = the batch execution's ARN (its input lists the jobs)
 *   EFT_LEASE = {"partitionId":"…","executionId":"…","region":"…","epoch":N}
 *
 * Exit status: 0 when the result is recorded on the job (a batch: when every
 * job has ended, SUCCEEDED or FAILED, or was skipped); 3 when the lease was
 * lost (nothing committed, nothing recorded); 1 for every other failure,
 * including SIGTERM (lastError STOPPED). The last log line ("worker exit")
 * reports the peak RSS, so memory use is visible per transfer.
 */
import { ExecutionInputReader } from '../core/adapters/step-functions';
import { runBatch } from '../core/data-plane/run-batch';
import { exitCodeFor, runTransfer, type WorkerDeps } from '../core/data-plane/run-transfer';
import { StoppedError, toTransferError } from '../core/domain/transfer/errors';
import { createLogger, type Logger, powertoolsOf } from '../core/observability/logger';
import { buildWorkerDeps } from '../core/runtime/worker-deps';
import { parseBatch } from './overrides';
import { type WorkerSettings, workerSettingsFromEnv } from './settings';

async function work(env: NodeJS.ProcessEnv, logger: Logger, signal: AbortSignal): Promise<number> {
  let settings: WorkerSettings;
  try {
    settings = workerSettingsFromEnv(env);
  } catch (err) {
    // Named by variable, never by value (the environment holds credentials).
    logger.error('bad worker settings', { code: 'CONFIGURATION', error: (err as Error).message });
    return 1;
  }
  const { work: what, lease } = settings;
  // Every later line of the process (its exit too) names the execution that holds the lease and, for one
  // job, the job and its customer (a batch's jobs each get a logger of their own, see run-batch.ts).
  powertoolsOf(logger).appendPersistentKeys({
    region: settings.region,
    executionId: lease.executionId,
    ...(what.kind === 'job' ? what.job : {}),
  });
  const jobLogger = logger;
  try {
    const deps = workerDeps(env, settings, jobLogger);
    if (what.kind === 'job') {
      await runTransfer(deps, what.job, lease, { signal });
      return 0;
    }
    const batch = parseBatch(await new ExecutionInputReader(env).read(what.executionArn));
    logger.info('batch started', { batchId: batch.batchId, executionId: lease.executionId, jobs: batch.jobIds.length });
    const summary = await runBatch(deps, batch, lease, { signal });
    logger.info('batch finished', { batchId: batch.batchId, ...summary });
    return 0;
  } catch (err) {
    const error = toTransferError(err);
    jobLogger.error('worker failed', { code: error.code, error: error.message });
    return exitCodeFor(err);
  }
}

function workerDeps(env: NodeJS.ProcessEnv, settings: WorkerSettings, logger: Logger): WorkerDeps {
  return { ...buildWorkerDeps(env, settings), logger, processStartedAt: performance.timeOrigin };
}

/** The worker's lines: Powertools Logger (it runs outside Lambda too), service eft-worker. */
const WORKER = { service: 'eft-worker' };

function start(): void {
  const logger = createLogger({ ...WORKER, region: process.env.AWS_REGION });
  const controller = new AbortController();
  const stop = (signalName: string) => {
    logger.warn('stop requested: aborting the transfer', { signal: signalName });
    controller.abort(new StoppedError());
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  work(process.env, logger, controller.signal).then(
    (code) => {
      logger.info('worker exit', { exitCode: code, maxRssBytes: process.resourceUsage().maxRSS * 1024 });
      // Open sockets (SDK keep-alive agents) must not keep a finished task alive.
      process.exit(code);
    },
    (err: unknown) => {
      logger.error('worker crashed', { error: toTransferError(err).message });
      process.exit(1);
    },
  );
}

start();
