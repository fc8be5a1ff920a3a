/**
 * Entry point of the Fargate transfer worker (one ECS task per job, started
 * by the state machine with RunTask; locally a child process).
 *
 * Environment: the functions' variables (tables, STAGING_BUCKET, AWS_REGION,
 * PEER_REGION, EFT_ALLOWED_NETWORKS, SECRETS_KMS_KEY_ID or EFT_LOCAL_SECRETS_DIR,
 * AWS_ENDPOINT_URL_* locally), the EFT_* tunables of core/worker/config.ts,
 * and two container overrides:
 *   EFT_JOB   = {"customerId":"…","jobId":"…"}
 *   EFT_LEASE = {"partitionId":"…","executionId":"…","region":"…","epoch":N}
 *
 * Exit status: 0 when the result is recorded on the job; 3 when the lease was
 * lost (nothing committed, nothing recorded); 1 for every other failure,
 * including SIGTERM (lastError STOPPED). The last log line ("worker exit")
 * reports the peak RSS, so memory use is visible per transfer.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../core/adapters/s3/client';
import { openSftp } from '../core/adapters/sftp/connect';
import { networkPolicyFromEnv } from '../core/connectivity/network-policy';
import type { LeaseToken } from '../core/domain/lease';
import type { JobKey } from '../core/domain/ports';
import { createLogger, type Logger } from '../core/observability/logger';
import { buildSecretStore, buildStores } from '../core/runtime/wiring';
import { workerConfigFromEnv } from '../core/worker/config';
import { StoppedError, toTransferError } from '../core/worker/errors';
import { parseJob, parseLease } from '../core/worker/overrides';
import { exitCodeFor, runTransfer } from '../core/worker/run-transfer';

async function work(env: NodeJS.ProcessEnv, logger: Logger, signal: AbortSignal): Promise<number> {
  let key: JobKey;
  let lease: LeaseToken;
  try {
    key = parseJob(env.EFT_JOB);
    lease = parseLease(env.EFT_LEASE);
  } catch (err) {
    logger.error('bad container overrides', { error: (err as Error).message });
    return 1;
  }
  const jobLogger = createLogger({ service: 'eft-worker', region: env.AWS_REGION, ...key });
  try {
    const stores = buildStores(env);
    const clients = new Map<string, S3Client>();
    const s3 = (region: string): S3Client => {
      let client = clients.get(region);
      if (!client) {
        client = createS3Client({ ...env, AWS_REGION: region });
        clients.set(region, client);
      }
      return client;
    };
    const stagingBucket = env.STAGING_BUCKET;
    if (!stagingBucket) throw new Error('STAGING_BUCKET is not set');
    await runTransfer(
      {
        jobs: stores.jobs,
        endpoints: stores.endpoints,
        leases: stores.leases,
        secrets: buildSecretStore(env),
        s3,
        openSftp: (target) => openSftp(target),
        networkPolicy: networkPolicyFromEnv(env),
        clock: stores.clock,
        logger: jobLogger,
        config: workerConfigFromEnv(env),
        stagingBucket,
        region: stores.region,
      },
      key,
      lease,
      { signal },
    );
    return 0;
  } catch (err) {
    const error = toTransferError(err);
    jobLogger.error('worker failed', { code: error.code, error: error.message });
    return exitCodeFor(err);
  }
}

function start(): void {
  const logger = createLogger({ service: 'eft-worker', region: process.env.AWS_REGION });
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
