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
import { s3ErrorKind, s3ErrorName } from './errors';

export interface S3ProbeLocation {
  bucket: string;
  prefix: string;
  /** The account that must own the bucket (ExpectedBucketOwner on every request). */
  bucketOwner?: string;
  /** When the endpoint writes with SSE-KMS, the probe object is written the same way (bucket policies often demand it). */
  kmsKeyId?: string;
}

function probeFailure(err: unknown, bucket: string, what: string): ProbeOutcome {
  const name = s3ErrorName(err) || 'Error';
  switch (s3ErrorKind(err)) {
    case 'bucket-missing':
    case 'missing': // HeadBucket answers a missing bucket with a bare 404
      return failed('BUCKET_MISSING', `bucket '${bucket}' does not exist`);
    case 'denied': {
      const kms = name.startsWith('KMS.') ? ' (the KMS key refused the request: check its key policy)' : '';
      return failed('ACCESS_DENIED', `the engine may not ${what}${kms}: check the bucket policy and the engine's IAM role`);
    }
    case 'wrong-region':
      return failed('UNKNOWN', `bucket '${bucket}' is in another region than the endpoint says`);
    default: {
      const message = (err as { message?: string } | undefined)?.message;
      return failed('UNKNOWN', `could not ${what}: ${message ? `${name}: ${message}` : name}`);
    }
  }
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
    if (s3ErrorKind(err) === 'denied') {
      return failed(
        'BUCKET_NOT_OWNED',
        `S3 refused bucket '${bucket}' for owner ${owner}: either account ${owner} does not own it, or its bucket policy does not grant eft (README, "Bucket ownership")`,
      );
    }
    return probeFailure(err, bucket, `access bucket '${bucket}'`);
  }
  try {
    await s3.send(new ListObjectsV2Command({ ...bucketOf({ bucket, owner }), Prefix: prefix, MaxKeys: 1 }));
  } catch (err) {
    return probeFailure(err, bucket, `list objects under ${where}`);
  }
  const separator = prefix === '' || prefix.endsWith('/') ? '' : '/';
  const key = `${prefix}${separator}${PROBE_PREFIX}${probeToken()}`;
  const put: PutObjectCommandInput = { ...bucketOf({ bucket, owner }), Key: key, Body: PROBE_CONTENT, ContentType: 'text/plain' };
  if (location.kmsKeyId) Object.assign(put, { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: location.kmsKeyId });
  try {
    await s3.send(new PutObjectCommand(put));
  } catch (err) {
    return probeFailure(err, bucket, `write objects under ${where}`);
  }
  try {
    await s3.send(new DeleteObjectCommand({ ...bucketOf({ bucket, owner }), Key: key }));
  } catch (err) {
    const outcome = probeFailure(
      err,
      bucket,
      `delete objects under ${where} (the probe object s3://${bucket}/${key} was left behind)`,
    );
    return outcome;
  }
  return { ok: true };
}
