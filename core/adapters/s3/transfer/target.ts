/**
 * An S3 object as a transfer's target: a bounded multipart upload (S3Upload),
 * neither memory nor disk ever holding the file.
 *
 * - A broken source or a failed part resumes after the last contiguous
 *   finished part (resumeStep is the part size, so the hash has a snapshot there).
 * - The object only becomes visible at the end (CompleteMultipartUpload or a
 *   single PutObject), with If-None-Match: * when the target must not be
 *   replaced.
 * - sha256: it cannot be object metadata of a multipart upload (metadata is
 *   fixed when the upload starts, before the hash is known, and a CopyObject
 *   to add it would copy 30 GB again), so only single-PUT objects (<= one
 *   part) carry `x-amz-meta-sha256`; verification compares size + ETag with
 *   the result, and the job's sha256 where it can recompute one.
 * - The multipart upload id is checkpointed when created, so a later process
 *   can abort an upload orphaned by a killed one (the staging bucket's
 *   lifecycle rule is the backstop). Resuming across processes is not done:
 *   the hash state cannot be persisted, and re-hashing the uploaded prefix
 *   would mean reading it again anyway.
 */
import { AbortMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import { TransferError } from '../../../domain/transfer/errors';
import type { Committed, ExistingFile, FileSink, FileTarget, TransferIo } from '../../../domain/transfer/io';
import { bucketOf } from '../bucket-owner';
import { headObject, type S3ObjectRef, s3Location, sha256OfObject } from './objects';
import { partSizeFor } from './part-size';
import { NameTakenError, S3Upload } from './upload';

export interface S3Destination extends S3ObjectRef {
  kmsKeyId?: string;
  /** True for customer targets (conflict policy "fail"); false for the worker's own staging objects. */
  mustNotExist: boolean;
}

interface OrphanUpload {
  bucket: string;
  key: string;
  uploadId: string;
}

export class S3FileTarget implements FileTarget {
  readonly location: string;
  readonly resumesAfter = 'the finished parts';
  private upload: S3Upload | undefined;
  private size = 0;

  constructor(
    private readonly s3: S3Client,
    private readonly target: S3Destination,
    private readonly io: TransferIo,
  ) {
    this.location = s3Location(target);
  }

  async existing(): Promise<ExistingFile | undefined> {
    const head = await headObject(this.s3, this.target, this.io.signal);
    if (!head) return undefined;
    return {
      bytes: head.ContentLength ?? 0,
      ...(head.Metadata?.sha256 ? { sha256: head.Metadata.sha256 } : {}),
      ...(head.ETag ? { etag: head.ETag } : {}),
      ...(head.VersionId ? { versionId: head.VersionId } : {}),
    };
  }

  sha256(file: ExistingFile): Promise<string> {
    return sha256OfObject(this.io, this.s3, { ...this.target, etag: file.etag });
  }

  resumeStep(size: number): number {
    return partSizeFor(this.io.tunables, size);
  }

  async prepare(size: number): Promise<ExistingFile | undefined> {
    const { io, target } = this;
    await this.abortOrphan();
    const partSize = this.resumeStep(size);
    // A file larger than a part is not moved at all when the target exists. A
    // smaller one goes in one PUT with If-None-Match: *, which finds that out
    // itself (commit), one S3 request less per file for batches of small files.
    if (target.mustNotExist && size > partSize) {
      const found = await this.existing();
      if (found) return found;
    }
    this.size = size;
    this.upload = new S3Upload(this.s3, target, {
      partSize,
      concurrency: io.tunables.partConcurrency,
      onMultipartCreated: (uploadId) =>
        io.job.saveCheckpoint({ multipart: { bucket: target.bucket, key: target.key, uploadId } }),
    });
    return undefined;
  }

  kept(): number {
    return this.prepared().resumeOffset();
  }

  async resume(): Promise<number> {
    return this.kept();
  }

  async sink(offset: number): Promise<FileSink> {
    return this.prepared().writer(offset, this.size);
  }

  async commit(sha256: string): Promise<Committed | undefined> {
    const upload = this.prepared();
    await this.io.job.confirmLease();
    let committed: Committed;
    try {
      committed = await upload.commit(
        { ifNoneMatch: this.target.mustNotExist, metadata: { sha256 }, bytes: this.size },
        this.io.signal,
      );
    } catch (err) {
      if (err instanceof NameTakenError) return undefined;
      throw err;
    }
    if (upload.uploadId) await this.io.job.saveCheckpoint({ multipart: undefined });
    return committed;
  }

  async abort(): Promise<void> {
    await this.upload?.abort();
  }

  failure(error: unknown): unknown {
    return error;
  }

  async reset(): Promise<void> {}

  private prepared(): S3Upload {
    if (!this.upload) throw new TransferError('INTERNAL', `${this.location} was written to before it was prepared`);
    return this.upload;
  }

  /** Aborts a multipart upload left behind by an earlier, killed process of this job. */
  private async abortOrphan(): Promise<void> {
    const { io, target } = this;
    const orphan = io.job.checkpoint.multipart as OrphanUpload | undefined;
    if (!orphan) return;
    if (orphan.bucket === target.bucket && orphan.key === target.key) {
      await this.s3
        .send(new AbortMultipartUploadCommand({ ...bucketOf(target), Key: orphan.key, UploadId: orphan.uploadId }))
        .catch(() => undefined);
    }
    await io.job.saveCheckpoint({ multipart: undefined });
  }
}
