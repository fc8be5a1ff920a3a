/**
 * An S3 object as a transfer's source: GetObject from an offset (a Range) with
 * If-Match on the ETag seen at stat, so a resumed read never splices two
 * versions of the object together.
 */
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { TransferError } from '../../../domain/transfer/errors';
import type { FileSource, TransferIo } from '../../../domain/transfer/io';
import { retryingIn } from '../../../domain/transfer/retry';
import { headObject, readObject, type S3ObjectRef, s3Location, sha256OfObject } from './objects';

export class S3FileSource implements FileSource {
  readonly location: string;
  private etag: string | undefined;

  constructor(
    private readonly s3: S3Client,
    private readonly object: S3ObjectRef,
    private readonly io: TransferIo,
    /** Already known (the staged copy of a staged transfer): the object is not read to settle a target. */
    private readonly knownSha256?: string,
  ) {
    this.location = s3Location(object);
  }

  async stat(): Promise<number> {
    const head = await retryingIn(this.io, `head ${this.location}`, async () => {
      const found = await headObject(this.s3, this.object, this.io.signal);
      if (!found) throw new TransferError('SOURCE_MISSING', `the source object ${this.location} does not exist`);
      return found;
    });
    this.etag = head.ETag;
    return head.ContentLength ?? 0;
  }

  open(offset: number): Promise<Readable> {
    return readObject(this.s3, this.object, { start: offset, ...(this.etag ? { etag: this.etag } : {}) }, this.io.signal);
  }

  async sha256(): Promise<string> {
    return this.knownSha256 ?? sha256OfObject(this.io, this.s3, { ...this.object, etag: this.etag });
  }

  failure(error: unknown): unknown {
    return error;
  }

  async reset(): Promise<void> {}
}
