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
 *   round trip is bounded by the SSH channel windows: reads get our 4 MiB
 *   (core/adapters/sftp/receive-window.ts), writes the server's (OpenSSH:
 *   2 MiB), so on a link with a round trip of 5 ms or more a file's READs
 *   and WRITEs from 64 MiB up take turns on two channels (two windows);
 *   writes only where the endpoint's server was seen to keep two handles'
 *   writes (capabilities.multiHandleWrite). On shorter links one channel:
 *   there the worker's CPU, not a window, limits, and a second channel only
 *   makes sshd work harder (docs/benchmarks.md).
 * - Lease renewed every TTL/3; progress written at most once a second.
 *
 * Every value can be overridden by an environment variable (EFT_*), which the
 * tests use to force small parts, short leases and fast retries. The worker
 * reads them with the rest of its environment (WorkerSettingsSchema, below)
 * once, at startup.
 */
import { z } from 'zod';
import type { TableNames } from '../adapters/config';
import { type NetworkPolicy, networkPolicyFromEnv } from '../adapters/net/network-policy';
import { DEFAULT_LEASE_TTL_MS } from '../domain/lease-service';
import type { JobKey } from '../domain/ports';
import type { WorkerConfig } from '../domain/transfer/tunables';
import { configurationError, JobOverrideSchema, jsonText, LeaseOverrideSchema } from './overrides';

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
const TUNABLE_VARIABLES = Object.fromEntries(
  TUNABLES.map(([key, name]) => [name, integerVariable(ZERO_ALLOWED.has(key) ? 0 : 1)]),
);

/** The tunables over DEFAULT_WORKER_CONFIG. */
function tunablesOf(env: Record<string, unknown>): WorkerConfig {
  const config = { ...DEFAULT_WORKER_CONFIG };
  for (const [key, name] of TUNABLES) config[key] = (env[name] as number | undefined) ?? config[key];
  // A shorter lease implies faster heartbeats unless they are set explicitly.
  if (env.EFT_LEASE_TTL_MS !== undefined && env.EFT_HEARTBEAT_MS === undefined) {
    config.heartbeatMs = Math.max(1, Math.floor(config.leaseTtlMs / 3));
  }
  return config;
}

const TunablesSchema = z.object(TUNABLE_VARIABLES).transform(tunablesOf);

/** The configuration from EFT_* variables over the defaults; a malformed value fails fast, named. */
export function workerConfigFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const result = TunablesSchema.safeParse(env);
  if (!result.success) throw configurationError(result.error);
  return result.data;
}

const required = z.string('is not set').min(1, 'is not set');

/** EFT_ALLOWED_NETWORKS as the network policy reads it (comma-separated CIDRs); an entry that is none is named. */
const allowedNetworks = z
  .string()
  .optional()
  .transform((text, ctx): NetworkPolicy => {
    try {
      return networkPolicyFromEnv({ EFT_ALLOWED_NETWORKS: text });
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `is not a list of CIDRs (${(error as Error).message})` });
      return z.NEVER;
    }
  });

/**
 * Variables required only in some cases become required ('' when unset) or
 * absent here, so the object schema reports every problem at once, by name.
 */
function withConditionalVariables(env: unknown): unknown {
  const vars = env as Record<string, string | undefined>;
  return {
    ...vars,
    // A batch execution (its input lists the jobs) wins; only without one is EFT_JOB read.
    EFT_JOB: vars.EFT_BATCH_EXECUTION ? undefined : (vars.EFT_JOB ?? ''),
    // The local runtime keeps endpoint credentials in files; in AWS, Secrets Manager with the stack's key.
    SECRETS_KMS_KEY_ID: vars.EFT_LOCAL_SECRETS_DIR ? undefined : (vars.SECRETS_KMS_KEY_ID ?? ''),
  };
}

/** What the worker runs: one job, or the jobs a batch execution's input lists. */
export type WorkerWork = { kind: 'job'; job: JobKey } | { kind: 'batch'; executionArn: string };

/** No job means a batch execution was named (withConditionalVariables requires EFT_JOB otherwise). */
function workOf(job: JobKey | undefined, batchExecution: string | undefined): WorkerWork {
  return job ? { kind: 'job', job } : { kind: 'batch', executionArn: String(batchExecution) };
}

/**
 * Everything the worker reads from its environment (resources/worker.yml, the
 * state machine's container overrides, the local runtime's stand-ins), checked
 * at once when it starts so a wrong variable is named before any work begins.
 * The adapters (stores, secrets, S3 clients) are still built from the
 * environment; this makes sure what they read is there.
 */
export const WorkerSettingsSchema = z.preprocess(
  withConditionalVariables,
  z
    .object({
      EFT_BATCH_EXECUTION: z.string().optional(),
      EFT_JOB: jsonText(JobOverrideSchema).optional(),
      EFT_LEASE: jsonText(LeaseOverrideSchema),
      AWS_REGION: required,
      ENDPOINTS_TABLE: required,
      JOBS_TABLE: required,
      LEASES_TABLE: required,
      AUDIT_TABLE: required,
      PRINCIPALS_TABLE: required,
      STAGING_BUCKET: required,
      ENGINE_ACCOUNT_ID: required,
      SECRETS_KMS_KEY_ID: required.optional(),
      EFT_LOCAL_SECRETS_DIR: z.string().optional(),
      EFT_ALLOWED_NETWORKS: allowedNetworks,
      ...TUNABLE_VARIABLES,
    })
    .transform((env) => ({
      work: workOf(env.EFT_JOB, env.EFT_BATCH_EXECUTION),
      lease: env.EFT_LEASE,
      config: tunablesOf(env),
      region: env.AWS_REGION,
      tables: {
        endpoints: env.ENDPOINTS_TABLE,
        jobs: env.JOBS_TABLE,
        leases: env.LEASES_TABLE,
        audit: env.AUDIT_TABLE,
        principals: env.PRINCIPALS_TABLE,
      } satisfies TableNames,
      /** The region's staging bucket, owned by the engine's own account (every request names the owner). */
      staging: { bucket: env.STAGING_BUCKET, owner: env.ENGINE_ACCOUNT_ID },
      networkPolicy: env.EFT_ALLOWED_NETWORKS,
    })),
);

export type WorkerSettings = z.output<typeof WorkerSettingsSchema>;

/** The worker's settings, parsed once at startup; every problem is reported at once, by variable. */
export function workerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const result = WorkerSettingsSchema.safeParse(env);
  if (!result.success) throw configurationError(result.error);
  return result.data;
}
