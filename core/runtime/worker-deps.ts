import type { NetworkPolicy } from '../adapters/net/network-policy';
import { regionalS3Clients } from '../adapters/s3/client';
import { s3Staging } from '../adapters/s3/transfer/staging';
import type { WorkerConfig } from '../data-plane/config';
import type { WorkerDeps } from '../data-plane/run-transfer';
import { metrics } from '../observability/metrics';
import { buildDrivers, buildStores } from './wiring';

/** What the transfer code needs besides the environment's tables and clients. */
export interface WorkerSettingsOfDeps {
  config: WorkerConfig;
  networkPolicy: NetworkPolicy;
  /** The region's staging bucket, owned by the engine's own account (every request names the owner). */
  staging: { bucket: string; owner: string };
}

/**
 * The transfer code's dependencies, one wiring for both places it runs: the Fargate worker
 * (fargate-worker/main.ts) and the small-file fast path's function (small-transfer.ts).
 */
export function buildWorkerDeps(env: NodeJS.ProcessEnv, settings: WorkerSettingsOfDeps): Omit<WorkerDeps, 'logger'> {
  const stores = buildStores(env);
  const s3 = regionalS3Clients(env);
  return {
    jobs: stores.jobs,
    endpoints: stores.endpoints,
    leases: stores.leases,
    drivers: buildDrivers(env, {
      s3,
      sftpConnectTimeoutMs: settings.config.connectTimeoutMs,
      networkPolicy: settings.networkPolicy,
      // The partners' session slots: a session waits for one (as long as the job runs) before it opens,
      // while the job's Liveness keeps renewing the partition lease.
      slots: stores.sessionSlots,
    }),
    staging: s3Staging({ s3: s3(stores.region), ...settings.staging }),
    clock: stores.clock,
    config: settings.config,
    region: stores.region,
    // Each measurement is published (EMF on stdout) when it is made: nothing is left to flush at exit.
    metrics,
  };
}
