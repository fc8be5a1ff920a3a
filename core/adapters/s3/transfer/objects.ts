import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { TransferIo } from '../../../domain/transfer/io';
import { retryingIn } from '../../../domain/transfer/retry';
import { sha256OfStream } from '../../../domain/transfer/sha256';
import { bucketOf } from '../bucket-owner';
import { s3Failure, s3HttpStatus } from '../errors';

export interface S3ObjectRef {
  bucket: string;
  key: string;
  /** The account that owns the bucket; S3 refuses the request if it is another's (core/adapters/s3/bucket-owner.ts). */
  owner: string;
}

export const s3Location = (ref: S3ObjectRef): string => `s3://${ref.bucket}/${ref.key}`;

/** HeadObject, or undefined when there is no such object. */
export async function headObject(
  s3: S3Client,
  ref: S3ObjectRef,
  signal: AbortSignal,
): Promise<HeadObjectCommandOutput | undefined> {
  try {
    return await s3.send(new HeadObjectCommand({ ...bucketOf(ref), Key: ref.key }), { abortSignal: signal });
  } catch (err) {
    if (s3HttpStatus(err) === 404) return undefined;
    throw s3Failure(err, s3Location(ref));
  }
}

/**
 * The object's bytes from `start` as a stream, only if it still has `etag`
 * (If-Match), so a resumed read can never splice two versions together. No
 * Range header from offset 0: a range on an empty object is a 416.
 */
export async function readObject(
  s3: S3Client,
  ref: S3ObjectRef,
  options: { start: number; etag?: string },
  signal: AbortSignal,
): Promise<Readable> {
  try {
    const got = await s3.send(
      new GetObjectCommand({
        ...bucketOf(ref),
        Key: ref.key,
        ...(options.etag ? { IfMatch: options.etag } : {}),
        ...(options.start > 0 ? { Range: `bytes=${options.start}-` } : {}),
      }),
      { abortSignal: signal },
    );
    return got.Body as Readable;
  } catch (err) {
    throw s3Failure(err, s3Location(ref), 'SOURCE_MISSING');
  }
}

/**
 * SHA-256 of an object at rest (read with If-Match on `etag`, if given), for
 * the no-overwrite decision; restarts from the first byte on a retry (this is
 * the rare path).
 */
export function sha256OfObject(
  io: Pick<TransferIo, 'signal' | 'logger' | 'tunables'>,
  s3: S3Client,
  object: S3ObjectRef & { etag?: string | undefined },
): Promise<string> {
  const location = s3Location(object);
  return retryingIn(io, `hash ${location}`, async () => {
    try {
      const body = await readObject(s3, object, { start: 0, ...(object.etag ? { etag: object.etag } : {}) }, io.signal);
      return await sha256OfStream(body, { signal: io.signal, stallTimeoutMs: io.tunables.stallTimeoutMs });
    } catch (err) {
      throw s3Failure(err, location, 'SOURCE_MISSING');
    }
  });
}
