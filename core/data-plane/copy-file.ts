/**
 * One hop of a transfer: a file from a source to a target, whatever their
 * kinds, streamed source → SHA-256 → target without memory or disk holding it.
 *
 * - The target already holds a file: the same content (size, then SHA-256) is
 *   success without a second delivery (alreadyPresent), anything else TARGET_EXISTS.
 * - A transient failure (a broken connection, a failed part, a stall) is
 *   retried from what the target kept, the hash rewound to its snapshot there;
 *   only failures in a row without progress exhaust the attempts.
 * - A source that delivers other than the size it had at the start fails
 *   with SOURCE_CHANGED; nothing is committed.
 * - The target commits without ever replacing a file, under a lease
 *   confirmed right before; a file that took the name meanwhile is settled
 *   as above. On failure the target removes what it wrote.
 */
import type { Readable } from 'node:stream';
import { TransferError, toTransferError } from '../domain/transfer/errors';
import type { ExistingFile, FileSource, FileTarget, TransferIo } from '../domain/transfer/io';
import { runPipeline } from '../domain/transfer/pipeline';
import { retryingIn } from '../domain/transfer/retry';
import { HashingStream, ResumableSha256 } from '../domain/transfer/sha256';

export interface CopyOutcome {
  bytes: number;
  sha256: string;
  etag?: string;
  versionId?: string;
  location: string;
  alreadyPresent: boolean;
}

/** Progress of a hop: bytes done of the total. */
export type ReportProgress = (done: number, total: number) => void;

export async function copyFile(
  io: TransferIo,
  source: FileSource,
  target: FileTarget,
  report: ReportProgress,
): Promise<CopyOutcome> {
  const size = await source.stat();
  report(0, size);
  const taken = await target.prepare(size);
  if (taken) {
    const outcome = await settle(source, target, size, taken);
    report(size, size);
    return outcome;
  }

  const hash = new ResumableSha256(target.resumeStep(size));
  let sha256: string;
  try {
    let resumedAt = 0;
    await retryingIn(
      io,
      `${source.location} → ${target.location}`,
      async () => {
        resumedAt = target.kept();
        const start = hash.rewind(await target.resume());
        if (start > 0)
          io.logger.info(`resuming after ${target.resumesAfter}`, { location: target.location, resumeAt: start, size });
        let stream: Readable | undefined;
        try {
          stream = await source.open(start, size);
          // The pipeline reports what the stream emits while the target is still being opened (it keeps the error).
          stream.on('error', () => undefined);
          const sink = await target.sink(start);
          await runPipeline([stream, new HashingStream(hash), sink], {
            signal: io.signal,
            stallTimeoutMs: io.tunables.stallTimeoutMs,
            position: () => sink.position,
            onProgress: (position) => {
              report(position, size);
              hash.forgetBefore(target.kept());
            },
          });
        } catch (err) {
          stream?.destroy();
          const failure = toTransferError(target.failure(source.failure(err)));
          // Only a broken or stalled connection is dropped: other files of a batch may be using it.
          if (failure.retryable) await Promise.all([source.reset(), target.reset()]);
          throw failure;
        }
      },
      () => target.kept() > resumedAt,
    );
    if (hash.position !== size) {
      throw new TransferError(
        'SOURCE_CHANGED',
        `the source ${source.location} changed during the transfer (${size} bytes at the start, ${hash.position} read)`,
      );
    }
    sha256 = hash.hex();
    const committed = await target.commit(sha256);
    if (committed) return { bytes: size, sha256, ...committed, location: target.location, alreadyPresent: false };
    await target.abort();
  } catch (err) {
    await target.abort(err);
    throw err;
  }
  return settle(source, target, size, await target.existing(), sha256);
}

/** The target holds a file already: success if it is the same content, else TARGET_EXISTS. */
async function settle(
  source: FileSource,
  target: FileTarget,
  size: number,
  existing: ExistingFile | undefined,
  knownSha256?: string,
): Promise<CopyOutcome> {
  const { location } = target;
  if (!existing)
    throw new TransferError('TARGET_EXISTS', `${location} was created and removed by someone else during the transfer`);
  if (existing.bytes !== size) {
    throw new TransferError(
      'TARGET_EXISTS',
      `${location} already exists with other content (${existing.bytes} bytes; the source has ${size})`,
    );
  }
  const targetSha256 = existing.sha256 ?? (await target.sha256(existing));
  const sourceSha256 = knownSha256 ?? (await source.sha256());
  if (targetSha256 !== sourceSha256) {
    throw new TransferError('TARGET_EXISTS', `${location} already exists with other content of the same size`);
  }
  return {
    bytes: size,
    sha256: sourceSha256,
    ...(existing.etag ? { etag: existing.etag } : {}),
    ...(existing.versionId ? { versionId: existing.versionId } : {}),
    location,
    alreadyPresent: true,
  };
}
