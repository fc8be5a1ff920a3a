import { ConfigurationError } from '../config';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** S3's own limits on copies (CopyObject, multipart uploads). */
export const S3_LIMITS = {
  /** Largest object one CopyObject can copy. */
  maxCopyObjectBytes: 5 * GiB,
  minPartBytes: 5 * MiB,
  maxPartBytes: 5 * GiB,
  maxParts: 10_000,
  maxObjectBytes: 5 * 1024 * GiB,
} as const;

export interface S3CopyConfig {
  /** Objects up to this size are copied with one CopyObject; larger ones part by part. */
  multipartThresholdBytes: number;
  /** Preferred part size; raised for large objects so they fit S3's 10,000 parts. */
  partSizeBytes: number;
  /** Parts copied at the same time. */
  partConcurrency: number;
  /** Floor of the part size: S3 refuses smaller parts (except the last). Lowered only by tests. */
  minPartSizeBytes: number;
  /** Least time between two checkpoint writes, so a copy of many small parts does not hammer the job item. */
  checkpointIntervalMs: number;
}

export const DEFAULT_S3_COPY_CONFIG: S3CopyConfig = {
  multipartThresholdBytes: S3_LIMITS.maxCopyObjectBytes,
  partSizeBytes: 256 * MiB,
  partConcurrency: 8,
  minPartSizeBytes: S3_LIMITS.minPartBytes,
  checkpointIntervalMs: 1000,
};

/** The copy settings of a function's environment; unset variables take the defaults. */
export function s3CopyConfigFromEnv(env: NodeJS.ProcessEnv = process.env): S3CopyConfig {
  const config: S3CopyConfig = {
    ...DEFAULT_S3_COPY_CONFIG,
    multipartThresholdBytes: positiveInteger(
      env,
      'COPY_MULTIPART_THRESHOLD_BYTES',
      DEFAULT_S3_COPY_CONFIG.multipartThresholdBytes,
    ),
    partSizeBytes: positiveInteger(env, 'COPY_PART_SIZE_BYTES', DEFAULT_S3_COPY_CONFIG.partSizeBytes),
    partConcurrency: positiveInteger(env, 'COPY_PART_CONCURRENCY', DEFAULT_S3_COPY_CONFIG.partConcurrency),
  };
  // Beyond these S3 refuses the request, so a mistyped value should fail at cold start, not mid-copy.
  if (config.multipartThresholdBytes > S3_LIMITS.maxCopyObjectBytes) {
    throw new ConfigurationError(
      `COPY_MULTIPART_THRESHOLD_BYTES must not exceed ${S3_LIMITS.maxCopyObjectBytes} (the CopyObject limit)`,
    );
  }
  if (config.partSizeBytes < S3_LIMITS.minPartBytes || config.partSizeBytes > S3_LIMITS.maxPartBytes) {
    throw new ConfigurationError(`COPY_PART_SIZE_BYTES must be between ${S3_LIMITS.minPartBytes} and ${S3_LIMITS.maxPartBytes}`);
  }
  return config;
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new ConfigurationError(`${name} must be a positive integer`);
  return value;
}
