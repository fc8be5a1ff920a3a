/**
 * The worker's tunables, with the defaults sized for files up to 30 GB in
 * the worker's Fargate task (1 vCPU, 2 GB: resources/worker.yml) with a peak
 * RSS under 300 MiB (measured: docs/benchmarks.md):
 *
 * - S3 parts of 16 MiB, 4 uploading at once: a 30 GB file is 1,920 parts (of
 *   S3's 10,000) and the upload side holds at most (4 + 1) x 16 MiB = 80 MiB.
 *   For larger files the part size grows so the parts still fit (see partSizeFor).
 * - SFTP: 64 requests of up to 255 KiB in flight each way (OpenSSH's sftp
 *   keeps 64 of 32 KiB), at most 16 MiB per stream. What the link carries per
 *   round trip is bounded by the SSH channel windows: reads get ours, 4 MiB
 *   below 10 ms of round trip and up to 16 MiB above (8 MB at 20 ms;
 *   core/adapters/sftp/receive-window.ts), writes the server's (OpenSSH:
 *   2 MiB), so on a link with a round trip of 5 ms or more a file's READs
 *   and WRITEs from 64 MiB up take turns on two channels (two windows);
 *   writes only where the endpoint's server was seen to keep two handles'
 *   writes (capabilities.multiHandleWrite). On shorter links one channel:
 *   there the worker's CPU, not a window, limits, and a second channel only
 *   makes sshd work harder (docs/benchmarks.md).
 * - Lease renewed every TTL/3; progress written at most once a second.
 * - A staged copy made in the other region is awaited here for up to 15
 *   minutes after it was made: the bound S3 RTC gives its replication.
 *
 * Every value can be overridden by an environment variable (EFT_*), which the
 * tests use to force small parts, short leases and fast retries. The worker
 * reads them with the rest of its environment (WorkerSettingsSchema,
 * fargate-worker/settings.ts) once, at startup.
 */
import { z } from 'zod';
import { ConfigurationError } from '../domain/errors';
import { DEFAULT_LEASE_TTL_MS } from '../domain/lease-service';
import type { WorkerConfig } from '../domain/transfer/tunables';

export type { WorkerConfig };

const MiB = 1024 * 1024;

export const DEFAULT_WORKER_CONFIG: WorkerConfig = {
  leaseTtlMs: DEFAULT_LEASE_TTL_MS,
  heartbeatMs: Math.floor(DEFAULT_LEASE_TTL_MS / 3),
  progressIntervalMs: 1000,
  partSizeBytes: 16 * MiB,
  partConcurrency: 4,
  sftpRequestBytes: 255 * 1024,
  sftpMaxInFlight: 64,
  sftpReadChannels: 2,
  sftpWriteChannels: 2,
  sftpChannelsMinBytes: 64 * MiB,
  sftpChannelsMinRttMs: 5,
  maxAttempts: 5,
  retryBaseMs: 1000,
  retryMaxMs: 30_000,
  stallTimeoutMs: 120_000,
  connectTimeoutMs: 20_000,
  hashMarkBytes: 8 * MiB,
  // S3 Replication Time Control's bound (resources/buckets.yml).
  stagedReplicaWaitMs: 15 * 60_000,
};

/** The variable of each tunable. */
const ENV_NAMES: Record<keyof WorkerConfig, string> = {
  leaseTtlMs: 'EFT_LEASE_TTL_MS',
  heartbeatMs: 'EFT_HEARTBEAT_MS',
  progressIntervalMs: 'EFT_PROGRESS_INTERVAL_MS',
  partSizeBytes: 'EFT_PART_SIZE_BYTES',
  partConcurrency: 'EFT_PART_CONCURRENCY',
  sftpRequestBytes: 'EFT_SFTP_REQUEST_BYTES',
  sftpMaxInFlight: 'EFT_SFTP_MAX_IN_FLIGHT',
  sftpReadChannels: 'EFT_SFTP_READ_CHANNELS',
  sftpWriteChannels: 'EFT_SFTP_WRITE_CHANNELS',
  sftpChannelsMinBytes: 'EFT_SFTP_CHANNELS_MIN_BYTES',
  sftpChannelsMinRttMs: 'EFT_SFTP_CHANNELS_MIN_RTT_MS',
  maxAttempts: 'EFT_MAX_ATTEMPTS',
  retryBaseMs: 'EFT_RETRY_BASE_MS',
  retryMaxMs: 'EFT_RETRY_MAX_MS',
  stallTimeoutMs: 'EFT_STALL_TIMEOUT_MS',
  connectTimeoutMs: 'EFT_CONNECT_TIMEOUT_MS',
  hashMarkBytes: 'EFT_HASH_MARK_BYTES',
  stagedReplicaWaitMs: 'EFT_STAGED_REPLICA_WAIT_MS',
};

/** Settings that may be 0 (0 ms: a second channel on any link). */
const ZERO_ALLOWED = new Set<keyof WorkerConfig>(['sftpChannelsMinRttMs']);

/** An integer variable; unset or empty keeps the default (undefined here). */
function integerVariable(lowest: 0 | 1) {
  const message = `must be ${lowest === 0 ? 'a non-negative' : 'a positive'} integer`;
  return z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.coerce.number(message).int(message).min(lowest, message).optional(),
  );
}

const TUNABLES = Object.entries(ENV_NAMES) as [keyof WorkerConfig, string][];
/** The schema of each tunable's variable, by name: the worker's settings check them with the rest. */
export const TUNABLE_VARIABLES = Object.fromEntries(
  TUNABLES.map(([key, name]) => [name, integerVariable(ZERO_ALLOWED.has(key) ? 0 : 1)]),
);

/** The tunables over DEFAULT_WORKER_CONFIG. */
export function tunablesOf(env: Record<string, unknown>): WorkerConfig {
  const config = { ...DEFAULT_WORKER_CONFIG };
  for (const [key, name] of TUNABLES) config[key] = (env[name] as number | undefined) ?? config[key];
  // A shorter lease implies faster heartbeats unless they are set explicitly.
  if (env.EFT_LEASE_TTL_MS !== undefined && env.EFT_HEARTBEAT_MS === undefined) {
    config.heartbeatMs = Math.max(1, Math.floor(config.leaseTtlMs / 3));
  }
  return config;
}

const TunablesSchema = z.object(TUNABLE_VARIABLES).transform(tunablesOf);

/**
 * One ConfigurationError for every problem, each named by where it is
 * (`EFT_LEASE.epoch must be an integer`). Messages describe, never echo: a
 * value in the environment may be a credential.
 */
export function configurationError(error: z.ZodError, subject?: string): ConfigurationError {
  const describe = (issue: z.core.$ZodIssue) => {
    const where = issue.path.map(String).join('.');
    return [subject && where ? `${subject}:` : subject, where, issue.message].filter(Boolean).join(' ');
  };
  return new ConfigurationError(error.issues.map(describe).join('; '));
}

/** The configuration from EFT_* variables over the defaults; a malformed value fails fast, named. */
export function workerConfigFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const result = TunablesSchema.safeParse(env);
  if (!result.success) throw configurationError(result.error);
  return result.data;
}
