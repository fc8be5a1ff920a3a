import type { EndpointOf } from '../../domain/endpoint';
import { BucketOwnerUnknownError } from '../../domain/errors';
import type { Location } from '../../domain/location';

export type S3Endpoint = EndpointOf<'S3'>;

/**
 * An object in a customer's bucket (for a listing, the key prefix of a
 * folder), with the account that must own the bucket: every request names it
 * as ExpectedBucketOwner (bucket-owner.ts).
 */
export interface S3ObjectLocation extends Location {
  readonly kind: 's3';
  readonly bucket: string;
  readonly key: string;
  readonly region: string;
  readonly kmsKeyId?: string;
  readonly owner: string;
}

export function isS3Location(location: Location): location is S3ObjectLocation {
  return location.kind === 's3';
}

/** Under the endpoint's prefix; an endpoint with no bucket owner takes no jobs (BucketOwnerUnknownError). */
export function resolveS3Location(endpoint: S3Endpoint, relativePath: string): S3ObjectLocation {
  const { bucket, prefix, region, kmsKeyId, bucketOwner } = endpoint.s3;
  if (!bucketOwner) throw new BucketOwnerUnknownError(endpoint.endpointId);
  const key = `${folder(prefix)}${relativePath}`;
  return { kind: 's3', uri: `s3://${bucket}/${key}`, bucket, owner: bucketOwner, key, region, ...(kmsKeyId ? { kmsKeyId } : {}) };
}

/** An S3 prefix read as a folder: "in" and "in/" both mean the folder in/. */
function folder(prefix: string): string {
  return prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix;
}
