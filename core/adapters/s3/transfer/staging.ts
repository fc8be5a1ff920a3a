/**
 * This region's staging bucket (the engine's account owns it) as the staging
 * area of copies between two endpoints that do not keep what is written
 * durably (SFTP→SFTP): objects staging/<customer>/<job>/<name>, which the
 * bucket's lifecycle rule expires if the worker cannot remove them.
 *
 * Each region's bucket is replicated to the other's under the same key
 * (resources/buckets.yml). A copy recorded in the other region's bucket is
 * read from its replica here, never from the other bucket: the worker's role
 * may not read it, and that region may be the one that is down. What a
 * replica keeps of its original: key, size, user metadata (the sha256 of a
 * single-PUT copy) and version id; its ETag may differ (re-encrypted with this
 * region's key, or copied as one part), so it is not compared.
 */
import { DeleteObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '../../../domain/logger';
import { TransferError, toTransferError } from '../../../domain/transfer/errors';
import type { FileSource, FileTarget, StagedCopy, StagedFile, StagingArea, TransferIo } from '../../../domain/transfer/io';
import { bucketOf } from '../bucket-owner';
import { headObject, type S3ObjectRef } from './objects';
import { S3FileSource } from './source';
import { S3FileTarget } from './target';

export interface S3StagingDeps {
  /** The client for the worker's own region. */
  s3: S3Client;
  /** This region's staging bucket. */
  bucket: string;
  /** The engine's account. */
  owner: string;
}

export function s3Staging(deps: S3StagingDeps): StagingArea {
  const { s3, bucket, owner } = deps;
  /** A staged copy stays where its record says, even if the staging bucket has changed since. */
  const stagedRef = (staged: StagedFile): S3ObjectRef => ({ bucket: staged.bucket, key: staged.key, owner });
  return {
    target(key: string, io: TransferIo): FileTarget {
      return new S3FileTarget(s3, { bucket, key, owner, mustNotExist: false }, io);
    },

    record(key, delivered, stagedAt): StagedFile {
      if (!delivered.etag) throw new TransferError('S3_FAILURE', `S3 returned no ETag for the staged copy s3://${bucket}/${key}`);
      return {
        bucket,
        key,
        bytes: delivered.bytes,
        sha256: delivered.sha256,
        etag: delivered.etag,
        ...(delivered.versionId ? { versionId: delivered.versionId } : {}),
        stagedAt,
      };
    },

    async find(staged: StagedFile, signal: AbortSignal): Promise<StagedCopy> {
      if (staged.bucket === bucket) {
        const head = await headObject(s3, stagedRef(staged), signal);
        const same = head?.ContentLength === staged.bytes && head.ETag === staged.etag;
        return same ? { status: 'present', copy: staged, replica: false } : { status: 'lost' };
      }
      const replica = { ...staged, bucket };
      const head = await headObject(s3, stagedRef(replica), signal);
      // Anything else under the key is not (yet) the replica of this copy: e.g. that of an earlier attempt's copy.
      if (!head || !isReplicaOf(head, staged)) return { status: 'awaited' };
      const copy: StagedFile = { ...replica, etag: head.ETag ?? staged.etag };
      if (head.VersionId) copy.versionId = head.VersionId;
      return { status: 'present', copy, replica: true };
    },

    source(staged: StagedFile, io: TransferIo): FileSource {
      return new S3FileSource(s3, stagedRef(staged), io, staged.sha256);
    },

    async remove(staged: StagedFile, logger: Logger): Promise<void> {
      await s3
        .send(new DeleteObjectCommand({ ...bucketOf(stagedRef(staged)), Key: staged.key }))
        .catch((err: unknown) =>
          logger.warn('the staged copy was not removed', { key: staged.key, error: toTransferError(err).message }),
        );
    },
  };
}

/** What can be checked at rest: the size, and the version id and SHA-256 metadata where both sides have them. */
function isReplicaOf(head: HeadObjectCommandOutput, staged: StagedFile): boolean {
  if (head.ContentLength !== staged.bytes) return false;
  if (staged.versionId && head.VersionId && head.VersionId !== staged.versionId) return false;
  const sha256 = head.Metadata?.sha256;
  return !sha256 || sha256 === staged.sha256;
}
