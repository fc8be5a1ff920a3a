/**
 * This region's staging bucket (the engine's account owns it) as the staging
 * area of copies between two endpoints that do not keep what is written
 * durably (SFTP→SFTP): objects staging/<customer>/<job>/<name>, which the
 * bucket's lifecycle rule expires if the worker cannot remove them.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '../../../domain/logger';
import { TransferError, toTransferError } from '../../../domain/transfer/errors';
import type { FileSource, FileTarget, StagedFile, StagingArea, TransferIo } from '../../../domain/transfer/io';
import { bucketOf } from '../bucket-owner';
import { headObject, type S3ObjectRef } from './objects';
import { S3FileSource } from './source';
import { S3FileTarget } from './target';

export interface S3StagingDeps {
  /** The client for the worker's own region. */
  s3: S3Client;
  bucket: string;
  /** The engine's account. */
  owner: string;
}

export function s3Staging(deps: S3StagingDeps): StagingArea {
  const { s3, bucket, owner } = deps;
  /** A staged copy stays where its checkpoint says, even if the staging bucket has changed since. */
  const stagedRef = (staged: StagedFile): S3ObjectRef => ({ bucket: staged.bucket, key: staged.key, owner });
  return {
    target(key: string, io: TransferIo): FileTarget {
      return new S3FileTarget(s3, { bucket, key, owner, mustNotExist: false }, io);
    },

    record(key: string, delivered: { bytes: number; sha256: string; etag?: string }): StagedFile {
      if (!delivered.etag) throw new TransferError('S3_FAILURE', `S3 returned no ETag for the staged copy s3://${bucket}/${key}`);
      return { bucket, key, bytes: delivered.bytes, sha256: delivered.sha256, etag: delivered.etag };
    },

    async holds(staged: StagedFile, signal: AbortSignal): Promise<boolean> {
      const head = await headObject(s3, stagedRef(staged), signal);
      return head?.ContentLength === staged.bytes && head.ETag === staged.etag;
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
