import type { WorkerConfig } from '../../../domain/transfer/tunables';

const MiB = 1024 * 1024;

/** S3's limits on multipart uploads. */
export const S3_MAX_PARTS = 10_000;
export const S3_MIN_PART_BYTES = 5 * MiB;

/**
 * The part size for an object of `size` bytes: the configured size, grown
 * (to a whole MiB) when the object would otherwise need more than 10,000 parts.
 */
export function partSizeFor(config: Pick<WorkerConfig, 'partSizeBytes'>, size: number): number {
  const needed = Math.ceil(size / S3_MAX_PARTS);
  if (needed <= config.partSizeBytes) return config.partSizeBytes;
  return Math.ceil(needed / MiB) * MiB;
}
