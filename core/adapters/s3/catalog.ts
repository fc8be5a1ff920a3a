import { HeadObjectCommand, type HeadObjectCommandOutput, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ConflictError } from '../../domain/errors';
import type { DestinationState, SourceFile } from '../../domain/ports';
import type { FolderListing } from '../folder-listing';
import { bucketOf } from './bucket-owner';
import { reportedChecksum } from './checksum';
import { s3ErrorKind, s3HttpStatus } from './errors';
import type { S3ObjectLocation } from './location';

/** S3's 403: the bucket is not the endpoint owner's, or it does not grant eft. The request is refused, not failed. */
function refusedOr(error: unknown, location: S3ObjectLocation): unknown {
  if (s3ErrorKind(error) !== 'denied') return error;
  return new ConflictError(
    `S3 refused eft access to ${location.uri} for owner ${location.owner}: the bucket is not owned by that account, or its policy does not grant eft`,
    'SOURCE_ACCESS_DENIED',
  );
}

/** A source object's metadata at request time (HeadObject); undefined if there is none. */
export async function statObject(s3: S3Client, location: S3ObjectLocation, path: string): Promise<SourceFile | undefined> {
  const name = path.split('/').pop() ?? path;
  try {
    const head = await s3.send(new HeadObjectCommand({ ...bucketOf(location), Key: location.key }));
    return { path, name, size: head.ContentLength ?? 0, version: head.VersionId ?? head.ETag };
  } catch (error) {
    if (s3HttpStatus(error) === 404) return undefined;
    throw refusedOr(error, location);
  }
}

/** The objects directly under a folder's prefix (ListObjectsV2 with "/" as the delimiter), page by page up to the limit. */
export async function listFolder(s3: S3Client, folder: S3ObjectLocation, listing: FolderListing): Promise<SourceFile[]> {
  const prefix = folder.key.endsWith('/') ? folder.key : `${folder.key}/`;
  let token: string | undefined;
  do {
    const page = await s3
      .send(new ListObjectsV2Command({ ...bucketOf(folder), Prefix: prefix, Delimiter: '/', ContinuationToken: token }))
      .catch((error: unknown) => {
        throw refusedOr(error, folder);
      });
    for (const object of page.Contents ?? []) {
      const name = (object.Key ?? '').slice(prefix.length);
      if (name) listing.add(name, object.Size ?? 0, { version: object.ETag });
    }
    token = page.NextContinuationToken;
  } while (token && !listing.full);
  return listing.files.slice(0, listing.limit);
}

/**
 * What a destination object holds, for verification: HeadObject with ChecksumMode ENABLED (S3
 * returns the checksum only when asked); undefined if there is no object.
 */
export async function inspectObject(s3: S3Client, location: S3ObjectLocation): Promise<DestinationState | undefined> {
  try {
    const head = await s3.send(new HeadObjectCommand({ ...bucketOf(location), Key: location.key, ChecksumMode: 'ENABLED' }));
    return s3DestinationState(head);
  } catch (error) {
    if (s3HttpStatus(error) === 404) return undefined;
    throw error;
  }
}

/** What verification compares of an S3 object, from a HeadObject sent with ChecksumMode ENABLED. */
export function s3DestinationState(head: HeadObjectCommandOutput): DestinationState {
  const checksum = reportedChecksum(head);
  return { bytes: head.ContentLength ?? 0, ...(head.ETag ? { etag: head.ETag } : {}), ...(checksum ? { checksum } : {}) };
}
