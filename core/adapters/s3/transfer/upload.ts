/**
 * Streaming upload of one S3 object from a byte stream of known size, with
 * bounded memory and resumable after a broken source:
 *
 * - Bytes are cut into parts of `partSize`; up to `concurrency` parts upload
 *   at once while the next one fills. The writer holds its callback while all
 *   upload slots are busy (backpressure on the source), so memory is at most
 *   (concurrency + 1) x partSize.
 * - An object of at most one part is sent with a single PutObject when the
 *   stream ends (and can then carry the sha256 metadata, known only at the
 *   end); the multipart upload is created only when a second part begins.
 * - The upload outlives the writer: after a failure, `resumeOffset()` is the
 *   end of the contiguous run of finished parts, and a new `writer()` carries
 *   on from there; parts past it are simply uploaded again.
 * - `commit` completes (or puts) with If-None-Match: * when the target must
 *   not be replaced, so a concurrent writer can never be overwritten.
 */

import { Writable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { TransferError } from '../../../domain/transfer/errors';
import type { FileSink } from '../../../domain/transfer/io';
import { bucketOf } from '../bucket-owner';
import { s3Failure } from '../errors';
import { unsignedPayloadOverHttps } from '../unsigned-payload';
import type { S3ObjectRef } from './objects';

/** If-None-Match refused the commit: someone else's object took the key meanwhile (the caller settles it). */
export class NameTakenError extends Error {}

export interface S3ObjectTarget extends S3ObjectRef {
  kmsKeyId?: string;
}

export interface S3UploadOptions {
  partSize: number;
  concurrency: number;
  /** Called once the multipart upload exists, so its id can be checkpointed (and an orphan aborted later). */
  onMultipartCreated?: (uploadId: string) => Promise<void>;
}

export interface CommittedObject {
  etag?: string;
  versionId?: string;
}

type Done = (error?: Error | null) => void;

export class S3Upload {
  uploadId: string | undefined;
  /** ETag by part number, for the parts finished so far. */
  private readonly parts = new Map<number, string>();
  /** The content, when it turned out to fit in one part. */
  private single: Buffer | undefined;
  private creating: Promise<string> | undefined;
  /**
   * Part buffers are recycled: a 30 GB upload would otherwise leave ~2,000
   * dead 16 MiB buffers to the garbage collector, which frees such external
   * memory late, so the process's footprint would balloon between collections.
   */
  private readonly spare: Buffer[] = [];

  constructor(
    private readonly s3: S3Client,
    readonly target: S3ObjectTarget,
    private readonly options: S3UploadOptions,
  ) {}

  get location(): string {
    return `s3://${this.target.bucket}/${this.target.key}`;
  }

  /** Offset to resume the source at: every byte before it is in a finished part. */
  resumeOffset(): number {
    let n = 0;
    while (this.parts.has(n + 1)) n++;
    return n * this.options.partSize;
  }

  /**
   * A writer for the bytes from `offset` (a part boundary, normally
   * resumeOffset()) to the end. `expectedSize` (the source's size) only keeps
   * small objects from taking a whole part's buffer.
   */
  writer(offset: number, expectedSize?: number): FileSink {
    if (offset % this.options.partSize !== 0) throw new RangeError('an upload resumes at a part boundary only');
    this.single = undefined;
    const firstCapacity = expectedSize === undefined ? this.options.partSize : Math.max(1, expectedSize - offset);
    return new PartWriter(
      this,
      offset / this.options.partSize + 1,
      this.options.partSize,
      this.options.concurrency,
      firstCapacity,
    );
  }

  /** @internal the writer's hand-off of a finished stream that fit in one part. */
  keepSingle(data: Buffer): void {
    this.single = data;
  }

  /** @internal a buffer of exactly one part, recycled when possible. */
  takeBuffer(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafe(this.options.partSize);
  }

  /** @internal gives a part buffer back once S3 no longer reads it. */
  returnBuffer(buffer: Buffer): void {
    if (buffer.length === this.options.partSize && this.spare.length <= this.options.concurrency) this.spare.push(buffer);
  }

  /** @internal creates the multipart upload once (the first time a second part is needed). */
  multipartId(): Promise<string> {
    this.creating ??= (async () => {
      try {
        const created = await this.s3.send(
          new CreateMultipartUploadCommand({ ...bucketOf(this.target), Key: this.target.key, ...this.encryption() }),
        );
        if (!created.UploadId) throw new TransferError('S3_FAILURE', `S3 returned no upload id for ${this.location}`);
        this.uploadId = created.UploadId;
        await this.options.onMultipartCreated?.(created.UploadId);
        return created.UploadId;
      } catch (err) {
        this.creating = undefined;
        throw s3Failure(err, this.location);
      }
    })();
    return this.creating;
  }

  /** @internal uploads one part; `signal` belongs to the writer that sent it. */
  async uploadPart(partNumber: number, body: Buffer, signal: AbortSignal): Promise<void> {
    const uploadId = await this.multipartId();
    try {
      const result = await this.s3.send(
        unsignedPayloadOverHttps(
          new UploadPartCommand({
            ...bucketOf(this.target),
            Key: this.target.key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.length,
          }),
        ),
        { abortSignal: signal },
      );
      if (!result.ETag) throw new TransferError('S3_FAILURE', `S3 returned no ETag for part ${partNumber} of ${this.location}`);
      this.parts.set(partNumber, result.ETag);
    } catch (err) {
      throw s3Failure(err, this.location);
    }
  }

  /**
   * Makes the object visible: CompleteMultipartUpload with the parts, or a
   * single PutObject (with `metadata`) for a one-part object. With
   * `ifNoneMatch`, S3 refuses (412) if the key exists by then: NameTakenError.
   */
  async commit(
    options: { ifNoneMatch: boolean; metadata: Record<string, string>; bytes: number },
    signal: AbortSignal,
  ): Promise<CommittedObject> {
    const condition = options.ifNoneMatch ? { IfNoneMatch: '*' } : {};
    const count = this.resumeOffset() / this.options.partSize;
    if (this.uploadId !== undefined && count !== Math.ceil(options.bytes / this.options.partSize)) {
      // Never complete an object with a part missing: that would commit a truncated file.
      throw new TransferError('INTERNAL', `${count} parts are finished for ${options.bytes} bytes of ${this.location}`);
    }
    try {
      if (this.uploadId === undefined) {
        const body = this.single ?? Buffer.alloc(0);
        this.single = undefined;
        const put = await this.s3.send(
          unsignedPayloadOverHttps(
            new PutObjectCommand({
              ...bucketOf(this.target),
              Key: this.target.key,
              Body: body,
              ContentLength: body.length,
              Metadata: options.metadata,
              ...this.encryption(),
              ...condition,
            }),
          ),
          { abortSignal: signal },
        );
        return { ...(put.ETag ? { etag: put.ETag } : {}), ...(put.VersionId ? { versionId: put.VersionId } : {}) };
      }
      const parts = Array.from({ length: count }, (_, i) => ({ PartNumber: i + 1, ETag: this.parts.get(i + 1) as string }));
      const done = await this.s3.send(
        new CompleteMultipartUploadCommand({
          ...bucketOf(this.target),
          Key: this.target.key,
          UploadId: this.uploadId,
          MultipartUpload: { Parts: parts },
          ...condition,
        }),
        { abortSignal: signal },
      );
      return { ...(done.ETag ? { etag: done.ETag } : {}), ...(done.VersionId ? { versionId: done.VersionId } : {}) };
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412) {
        throw new NameTakenError(`${this.location} was created by someone else during the transfer`, { cause: err });
      }
      throw s3Failure(err, this.location);
    }
  }

  /** Discards the multipart upload and its parts (best effort: the bucket's lifecycle rule is the backstop). */
  async abort(): Promise<void> {
    const uploadId = this.uploadId;
    if (!uploadId) return;
    this.uploadId = undefined;
    this.parts.clear();
    await this.s3
      .send(new AbortMultipartUploadCommand({ ...bucketOf(this.target), Key: this.target.key, UploadId: uploadId }))
      .catch(() => undefined);
  }

  private encryption() {
    return this.target.kmsKeyId ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: this.target.kmsKeyId } : {};
  }
}

/** One attempt's writer: fills parts and uploads them, at most `concurrency` at a time. */
class PartWriter extends Writable {
  private buffer: Buffer | undefined;
  private filled = 0;
  /** Offset of the end of the last part sent. */
  private sealed: number;
  private inFlight = 0;
  private held: { ready: () => boolean; done: Done } | undefined;
  /** Aborts this attempt's part uploads when it is destroyed. */
  private readonly controller = new AbortController();

  constructor(
    private readonly upload: S3Upload,
    private nextPart: number,
    private readonly partSize: number,
    private readonly concurrency: number,
    /** Size of the first buffer; it grows to a whole part if more bytes come. */
    private firstCapacity: number,
  ) {
    super({ highWaterMark: 64 * 1024 });
    this.sealed = (nextPart - 1) * partSize;
  }

  /** The object's bytes this writer has taken, in parts sent and in the buffer. */
  get position(): number {
    return this.sealed + this.filled;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Done): void {
    let at = 0;
    while (at < chunk.length) {
      // A full buffer is sent only once more bytes arrive: an object of exactly one part stays a single PUT.
      if (this.buffer && this.filled === this.partSize) this.seal();
      if (!this.buffer) {
        this.buffer = this.firstCapacity < this.partSize ? Buffer.allocUnsafe(this.firstCapacity) : this.upload.takeBuffer();
        this.firstCapacity = this.partSize;
      } else if (this.filled === this.buffer.length) {
        const grown = this.upload.takeBuffer();
        this.buffer.copy(grown, 0, 0, this.filled);
        this.buffer = grown;
      }
      const n = Math.min(this.buffer.length - this.filled, chunk.length - at);
      chunk.copy(this.buffer, this.filled, at, at + n);
      this.filled += n;
      at += n;
    }
    this.hold(() => this.inFlight < this.concurrency, callback);
  }

  override _final(callback: Done): void {
    if (this.nextPart === 1 && this.upload.uploadId === undefined) {
      // Everything fit in the first part: the object will be a single PutObject.
      this.upload.keepSingle(this.buffer ? this.buffer.subarray(0, this.filled) : Buffer.alloc(0));
      this.buffer = undefined;
      callback();
      return;
    }
    if (this.filled > 0) this.seal();
    this.hold(() => this.inFlight === 0, callback);
  }

  override _destroy(error: Error | null, callback: Done): void {
    this.controller.abort();
    this.held = undefined;
    this.buffer = undefined;
    callback(error);
  }

  private seal(): void {
    const buffer = this.buffer as Buffer;
    const body = buffer.subarray(0, this.filled);
    const partNumber = this.nextPart++;
    this.buffer = undefined;
    this.sealed += this.filled;
    this.filled = 0;
    this.inFlight++;
    const sent = this.upload.uploadPart(partNumber, body, this.controller.signal);
    // Settled means the SDK is done with the body (its own retries included).
    sent.finally(() => this.upload.returnBuffer(buffer)).catch(() => undefined);
    sent.then(
      () => {
        this.inFlight--;
        const held = this.held;
        if (held?.ready()) {
          this.held = undefined;
          held.done();
        }
      },
      (err: Error) => {
        this.inFlight--;
        if (!this.destroyed) this.destroy(err);
      },
    );
  }

  private hold(ready: () => boolean, done: Done): void {
    if (ready()) done();
    else this.held = { ready, done };
  }
}
