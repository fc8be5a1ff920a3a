/**
 * Hop SFTP file → S3 object: the pipelined SFTP reader, a SHA-256 stage and a
 * bounded multipart upload, neither memory nor disk ever holding the file.
 *
 * - A broken connection or a failed part resumes from the last contiguous
 *   finished part (the hash is rewound to its snapshot at that boundary).
 * - The object only becomes visible at the end (CompleteMultipartUpload or a
 *   single PutObject), with If-None-Match: * when the target must not be
 *   replaced; an object already there with the same content is success
 *   without a second delivery (alreadyPresent), a different one TARGET_EXISTS.
 * - sha256: the result always carries it. It cannot be object metadata of a
 *   multipart upload (metadata is fixed when the upload starts, before the
 *   hash is known, and a CopyObject to add it would copy 30 GB again), so only
 *   single-PUT objects (<= one part) carry `x-amz-meta-sha256`; verification
 *   compares size + ETag with the result, and the job's sha256 where it can
 *   recompute one.
 * - The multipart upload id is checkpointed when created, so a later process
 *   can abort an upload orphaned by a killed one (the staging bucket's
 *   lifecycle rule is the backstop). Resuming across processes is not done:
 *   the hash state cannot be persisted, and re-hashing the uploaded prefix
 *   would mean reading it again anyway.
 */
import { AbortMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SFTPWrapper } from 'ssh2';
import { bucketOf } from '../adapters/s3/bucket-owner';
import type { SftpSession } from '../adapters/sftp/connect';
import { TransferError } from '../domain/transfer/errors';
import { runPipeline } from '../domain/transfer/pipeline';
import { retrying } from '../domain/transfer/retry';
import { HashingStream, ResumableSha256 } from '../domain/transfer/sha256';
import { partSizeFor } from './config';
import { sha256OfS3Object, sha256OfSftpFile } from './content-hash';
import { type HopContext, retryOptions, retryPolicyOf } from './context';
import { headObject, type S3ObjectRef, s3Location } from './s3-objects';
import { S3Upload } from './s3-upload';
import { endChannels, moreChannelsFor, sftpFailure } from './sftp-channel';
import type { SftpConnector } from './sftp-endpoint';
import { SftpReadStream } from './sftp-read-stream';

export interface SftpSource {
  connector: SftpConnector;
  path: string;
}

export interface S3Destination extends S3ObjectRef {
  s3: S3Client;
  kmsKeyId?: string;
  /** True for customer targets (conflict policy "fail"); false for the worker's own staging objects. */
  mustNotExist: boolean;
}

export interface HopOutcome {
  bytes: number;
  sha256: string;
  etag?: string;
  versionId?: string;
  location: string;
  alreadyPresent: boolean;
}

/** Progress of a hop: bytes done of the total. */
export type ReportProgress = (done: number, total: number) => void;

interface OrphanUpload {
  bucket: string;
  key: string;
  uploadId: string;
}

/** The size of the source file; it must be a regular file. */
async function statSource(ctx: HopContext, source: SftpSource): Promise<number> {
  const { connector, path } = source;
  return retrying(retryPolicyOf(ctx.config), retryOptions(ctx, `stat ${connector.locationOf(path)}`), async () => {
    let session: SftpSession | undefined;
    try {
      const connected = await connector.connect();
      session = connected.session;
      const stats = await connected.channel.stat(path);
      if (!stats.isFile()) {
        throw new TransferError('SOURCE_NOT_A_FILE', `the source ${path} on ${connector.where} is not a regular file`);
      }
      return stats.size;
    } catch (err) {
      const failure = sftpFailure(err, 'source', path, connector.where);
      if (failure.retryable) await connector.reset(session);
      throw failure;
    }
  });
}

/** Aborts a multipart upload left behind by an earlier, killed process of this job. */
async function abortOrphan(ctx: HopContext, target: S3Destination): Promise<void> {
  const orphan = ctx.liveness.checkpoint.multipart as OrphanUpload | undefined;
  if (!orphan) return;
  if (orphan.bucket === target.bucket && orphan.key === target.key) {
    await target.s3
      .send(new AbortMultipartUploadCommand({ ...bucketOf(target), Key: orphan.key, UploadId: orphan.uploadId }))
      .catch(() => undefined);
  }
  await ctx.liveness.saveCheckpoint({ multipart: undefined });
}

/**
 * The target already exists: the same content (size, then SHA-256) is
 * success without a second delivery; anything else is TARGET_EXISTS.
 */
async function settleExisting(
  ctx: HopContext,
  source: SftpSource,
  target: S3Destination,
  size: number,
  knownSha256: string | undefined,
): Promise<HopOutcome> {
  const location = s3Location(target);
  const existing = await headObject(target.s3, target, ctx.signal);
  if (!existing)
    throw new TransferError('TARGET_EXISTS', `${location} was created and removed by someone else during the transfer`);
  if (existing.ContentLength !== size) {
    throw new TransferError(
      'TARGET_EXISTS',
      `${location} already exists with other content (${existing.ContentLength} bytes; the source has ${size})`,
    );
  }
  const targetSha256 =
    existing.Metadata?.sha256 ??
    (await sha256OfS3Object(ctx, target.s3, { ...target, ...(existing.ETag ? { etag: existing.ETag } : {}) }));
  const sourceSha256 = knownSha256 ?? (await sha256OfSftpFile(ctx, source.connector, source.path, 'source'));
  if (targetSha256 !== sourceSha256) {
    throw new TransferError('TARGET_EXISTS', `${location} already exists with other content of the same size`);
  }
  return {
    bytes: size,
    sha256: sourceSha256,
    ...(existing.ETag ? { etag: existing.ETag } : {}),
    ...(existing.VersionId ? { versionId: existing.VersionId } : {}),
    location,
    alreadyPresent: true,
  };
}

export async function copySftpToS3(
  ctx: HopContext,
  source: SftpSource,
  target: S3Destination,
  report: ReportProgress,
): Promise<HopOutcome> {
  const { config } = ctx;
  const { connector, path } = source;
  const location = s3Location(target);
  const size = await statSource(ctx, source);
  report(0, size);
  await abortOrphan(ctx, target);
  const partSize = partSizeFor(config, size);
  // A file larger than a part is not moved at all when the target exists. A
  // smaller one goes in one PUT with If-None-Match: *, which finds that out
  // itself (below), one S3 request less per file for batches of small files.
  if (target.mustNotExist && size > partSize && (await headObject(target.s3, target, ctx.signal))) {
    const outcome = await settleExisting(ctx, source, target, size, undefined);
    report(size, size);
    return outcome;
  }

  // Snapshots at every part boundary: a resume starts exactly where the finished parts end.
  const hash = new ResumableSha256(partSize);
  const upload = new S3Upload(target.s3, target, {
    partSize,
    concurrency: config.partConcurrency,
    onMultipartCreated: (uploadId) =>
      ctx.liveness.saveCheckpoint({ multipart: { bucket: target.bucket, key: target.key, uploadId } }),
  });
  try {
    let resumedAt = 0;
    await retrying(
      retryPolicyOf(config),
      retryOptions(ctx, `${connector.locationOf(path)} → ${location}`, () => upload.resumeOffset() > resumedAt),
      async () => {
        resumedAt = upload.resumeOffset();
        const start = hash.rewind(resumedAt);
        if (start > 0) ctx.logger.info('resuming after the finished parts', { location, resumeAt: start, size });
        let session: SftpSession | undefined;
        let moreChannels: SFTPWrapper[] = [];
        try {
          ({ session } = await connector.connect());
          moreChannels = await moreChannelsFor(session, size - start, config.sftpReadChannels, config);
          const reader = new SftpReadStream(session.sftp, path, {
            start,
            size,
            requestBytes: config.sftpRequestBytes,
            maxInFlight: config.sftpMaxInFlight,
            where: connector.where,
            moreChannels,
          });
          await runPipeline([reader, new HashingStream(hash), upload.writer(start, size)], {
            signal: ctx.signal,
            stallTimeoutMs: config.stallTimeoutMs,
            position: () => hash.position,
            onProgress: (position) => {
              report(position, size);
              hash.forgetBefore(upload.resumeOffset());
            },
          });
        } catch (err) {
          const failure = sftpFailure(err, 'source', path, connector.where);
          // Only a broken or stalled session is dropped: other files of a batch may be using it.
          if (failure.retryable) await connector.reset(session);
          throw failure;
        } finally {
          endChannels(moreChannels);
        }
      },
    );
    if (hash.position !== size) {
      throw new TransferError(
        'SOURCE_CHANGED',
        `the source file ${path} on ${connector.where} changed during the transfer (${size} bytes at the start, ${hash.position} read)`,
      );
    }
    const sha256 = hash.hex();
    // Nothing becomes visible unless the lease is still ours right now.
    await ctx.liveness.confirmLease();
    let committed: Awaited<ReturnType<S3Upload['commit']>>;
    try {
      committed = await upload.commit({ ifNoneMatch: target.mustNotExist, metadata: { sha256 }, bytes: size }, ctx.signal);
    } catch (err) {
      if ((err as TransferError).code !== 'TARGET_EXISTS_RACE') throw err;
      await upload.abort();
      return await settleExisting(ctx, source, target, size, sha256);
    }
    if (upload.uploadId) await ctx.liveness.saveCheckpoint({ multipart: undefined });
    return { bytes: size, sha256, ...committed, location, alreadyPresent: false };
  } catch (err) {
    await upload.abort();
    throw err;
  }
}
