import type { ObjectChecksum } from '../../domain/job';

/**
 * The SHA-256 checksum S3 reports in a response (CopyObjectResult, CompleteMultipartUpload, HeadObject
 * with ChecksumMode ENABLED), if any. S3 names its type (x-amz-checksum-type); where it does not, the
 * "-N" suffix of a composite value tells.
 */
export function reportedChecksum(
  reported: { ChecksumSHA256?: string | undefined; ChecksumType?: string | undefined } | undefined,
): ObjectChecksum | undefined {
  const value = reported?.ChecksumSHA256;
  if (!value) return undefined;
  const named = reported.ChecksumType;
  const type = named === 'FULL_OBJECT' || named === 'COMPOSITE' ? named : /-\d+$/.test(value) ? 'COMPOSITE' : 'FULL_OBJECT';
  return { algorithm: 'SHA256', type, value };
}
