/**
 * S3 endpoint validation (spec FR-5): the bucket exists, is the named owner's
 * and grants eft what transfers need. The outcome is data, never an exception
 * (../probing.ts).
 */
import {
  DeleteObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ProbeOutcome } from '../../domain/endpoint';
import { failed, PROBE_CONTENT, PROBE_PREFIX, probeToken } from '../probing';
import { bucketOf } from './bucket-owner';

export interface S3ProbeLocation {
  bucket: string;
  prefix: string;
  /** The account that must own the bucket (ExpectedBucketOwner on every request). */
  bucketOwner?: string;
  /** When the endpoint writes with SSE-KMS, the probe object is written the same way (bucket policies often demand it). */
  kmsKeyId?: string;
}

interface S3ErrorShape {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

function s3Status(err: unknown): { name: string; status: number | undefined; message: string } {
  const e = (err ?? {}) as S3ErrorShape;
  return { name: e.name ?? 'Error', status: e.$metadata?.httpStatusCode, message: e.message ?? '' };
}

const isMissingBucket = (s: ReturnType<typeof s3Status>) =>
  s.name === 'NoSuchBucket' || (s.name === 'NotFound' && s.status === 404);
const isDenied = (s: ReturnType<typeof s3Status>) =>
  s.status === 403 || s.name === 'AccessDenied' || s.name === 'Forbidden' || s.name.startsWith('KMS.');

function s3Failure(err: unknown, bucket: string, what: string): ProbeOutcome {
  const s = s3Status(err);
  if (isMissingBucket(s)) return failed('BUCKET_MISSING', `bucket '${bucket}' does not exist`);
  if (isDenied(s)) {
    const kms = s.name.startsWith('KMS.') ? ' (the KMS key refused the request: check its key policy)' : '';
    return failed('ACCESS_DENIED', `the engine may not ${what}${kms}: check the bucket policy and the engine's IAM role`);
  }
  if (s.status === 301 || s.name === 'PermanentRedirect' || s.name === 'AuthorizationHeaderMalformed') {
    return failed('UNKNOWN', `bucket '${bucket}' is in another region than the endpoint says`);
  }
  const detail = s.message ? `${s.name}: ${s.message}` : s.name;
  return failed('UNKNOWN', `could not ${what}: ${detail}`);
}

/**
 * Validates an S3 endpoint: the bucket exists and is reachable (HeadBucket),
 * the prefix can be listed, and a probe object can be written and deleted
 * under it. Unlike SFTP, a refused write is ACCESS_DENIED: S3 access is the
 * engine's own IAM role and bucket policy, which the endpoint owner sets up
 * for reading and writing as documented.
 */
export async function probeS3(s3: S3Client, location: S3ProbeLocation): Promise<ProbeOutcome> {
  const { bucket, prefix, bucketOwner: owner } = location;
  if (!owner) {
    return failed(
      'BUCKET_OWNER_UNKNOWN',
      'the endpoint names no bucket owner: set s3.bucketOwner to the account that owns the bucket',
    );
  }
  const where = `s3://${bucket}/${prefix}`;
  try {
    await s3.send(new HeadBucketCommand(bucketOf({ bucket, owner })));
  } catch (err) {
    // S3 answers a bucket of another owner with the 403 of a missing grant (it tells the two apart to no one).
    if (isDenied(s3Status(err))) {
      return failed(
        'BUCKET_NOT_OWNED',
        `S3 refused bucket '${bucket}' for owner ${owner}: either account ${owner} does not own it, or its bucket policy does not grant eft (README, "Bucket ownership")`,
      );
    }
    return s3Failure(err, bucket, `access bucket '${bucket}'`);
  }
  try {
    await s3.send(new ListObjectsV2Command({ ...bucketOf({ bucket, owner }), Prefix: prefix, MaxKeys: 1 }));
  } catch (err) {
    return s3Failure(err, bucket, `list objects under ${where}`);
  }
  const separator = prefix === '' || prefix.endsWith('/') ? '' : '/';
  const key = `${prefix}${separator}${PROBE_PREFIX}${probeToken()}`;
  const put: PutObjectCommandInput = { ...bucketOf({ bucket, owner }), Key: key, Body: PROBE_CONTENT, ContentType: 'text/plain' };
  if (location.kmsKeyId) Object.assign(put, { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: location.kmsKeyId });
  try {
    await s3.send(new PutObjectCommand(put));
  } catch (err) {
    return s3Failure(err, bucket, `write objects under ${where}`);
  }
  try {
    await s3.send(new DeleteObjectCommand({ ...bucketOf({ bucket, owner }), Key: key }));
  } catch (err) {
    const outcome = s3Failure(
      err,
      bucket,
      `delete objects under ${where} (the probe object s3://${bucket}/${key} was left behind)`,
    );
    return outcome;
  }
  return { ok: true };
}
