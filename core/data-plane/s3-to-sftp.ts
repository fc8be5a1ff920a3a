/**
 * Hop S3 object → SFTP file: S3 GetObject streamed through a SHA-256 stage
 * into the pipelined SFTP writer.
 *
 * Delivery ("the final name is never visible with partial content"):
 * - 'rename' (default): write `<final>.eft-<job>.tmp`, check its size on the
 *   server, confirm the lease, then RENAME it to the final name. SFTP v3
 *   RENAME fails if the final name exists, so a file that appeared meanwhile
 *   is never replaced. The temporary name is per job (two jobs delivering to
 *   one name cannot mix their bytes) and stable across attempts (a killed
 *   attempt's file is simply overwritten by the next).
 * - 'direct-write', when the endpoint's validated capabilities say the server
 *   refuses renames: the final name is created with EXCL (never replacing a
 *   file) and written in place; the job's checkpoint records
 *   `{ delivery: 'direct-write', directWrite: <path> }`, so a retry knows the
 *   partial file is its own and may rewrite it. Partial content IS visible
 *   during such a transfer; the partner chose that by forbidding renames.
 *
 * A broken connection resumes at the last hash snapshot below the bytes the
 * server acknowledged (WRITEs carry explicit offsets, so re-sending is
 * harmless), reading S3 with a Range and If-Match on the ETag. On failure or
 * stop the partial file is removed (best effort); on loss of the lease it is
 * left alone, since the new owner of the job writes the same temporary name.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFTPWrapper } from 'ssh2';
import type { SftpSession } from '../adapters/sftp/connect';
import type { SftpCapabilities } from '../domain/endpoint';
import { LeaseLostError, TransferError } from '../domain/transfer/errors';
import { runPipeline } from '../domain/transfer/pipeline';
import { retrying } from '../domain/transfer/retry';
import { HashingStream, ResumableSha256 } from '../domain/transfer/sha256';
import { sha256OfS3Object, sha256OfSftpFile } from './content-hash';
import { type HopContext, retryOptions, retryPolicyOf } from './context';
import { headObject, readObject, type S3ObjectRef, s3Location } from './s3-objects';
import { endChannels, moreChannelsFor, OPEN_FLAGS, SFTP_STATUS, sftpFailure, sftpStatus } from './sftp-channel';
import type { SftpConnector } from './sftp-endpoint';
import type { HopOutcome, ReportProgress } from './sftp-to-s3';
import { SftpWriteStream } from './sftp-write-stream';

export interface S3Source extends S3ObjectRef {
  s3: S3Client;
  /** SHA-256 already known (the staged copy of an SFTP→SFTP job), used only to settle an existing target. */
  knownSha256?: string;
}

export interface SftpDestination {
  connector: SftpConnector;
  path: string;
  /** Where the content is written before the rename. */
  tmpPath: string;
  capabilities?: SftpCapabilities;
}

export type Delivery = 'rename' | 'direct-write';

export interface SftpHopOutcome extends HopOutcome {
  delivery: Delivery;
}

const CLEANUP_TIMEOUT_MS = 5000;

/** Runs `action` with the target channel, retrying transient failures on a new session. */
function withTarget<T>(
  ctx: HopContext,
  target: SftpDestination,
  what: string,
  action: (channel: Awaited<ReturnType<SftpConnector['connect']>>['channel']) => Promise<T>,
): Promise<T> {
  const { connector } = target;
  return retrying(retryPolicyOf(ctx.config), retryOptions(ctx, what), async () => {
    let session: SftpSession | undefined;
    try {
      const connected = await connector.connect();
      session = connected.session;
      return await action(connected.channel);
    } catch (err) {
      const failure = sftpFailure(err, 'target', target.path, connector.where);
      if (failure.retryable) await connector.reset(session);
      throw failure;
    }
  });
}

/**
 * The final name exists: the same content (size, then SHA-256) is success
 * without a second delivery, anything else TARGET_EXISTS.
 */
async function settleExisting(
  ctx: HopContext,
  source: S3Source & { etag?: string },
  target: SftpDestination,
  size: number,
  existingSize: number | undefined,
  knownSha256: string | undefined,
  delivery: Delivery,
): Promise<SftpHopOutcome> {
  const location = target.connector.locationOf(target.path);
  if (existingSize !== size) {
    throw new TransferError(
      'TARGET_EXISTS',
      `${location} already exists with other content (${existingSize} bytes; the source has ${size})`,
    );
  }
  // check-file is not used: neither OpenSSH nor common partner servers implement it, so the file is read back.
  const targetSha256 = await sha256OfSftpFile(ctx, target.connector, target.path, 'target');
  const sourceSha256 = knownSha256 ?? (await sha256OfS3Object(ctx, source.s3, source));
  if (targetSha256 !== sourceSha256) {
    throw new TransferError('TARGET_EXISTS', `${location} already exists with other content of the same size`);
  }
  return { bytes: size, sha256: sourceSha256, location, alreadyPresent: true, delivery };
}

/** Removes a partial file, bounded in time (this also runs on SIGTERM, within ECS's stop timeout). */
async function removeQuietly(target: SftpDestination, path: string): Promise<void> {
  const attempt = (async () => {
    const { channel } = await target.connector.connect();
    await channel.unlink(path);
  })().catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLEANUP_TIMEOUT_MS);
  });
  await Promise.race([attempt, timeout]);
  clearTimeout(timer);
}

export async function copyS3ToSftp(
  ctx: HopContext,
  source: S3Source,
  target: SftpDestination,
  report: ReportProgress,
): Promise<SftpHopOutcome> {
  const { config } = ctx;
  const { connector } = target;
  const sourceLocation = s3Location(source);
  const head = await retrying(retryPolicyOf(config), retryOptions(ctx, `head ${sourceLocation}`), async () => {
    const found = await headObject(source.s3, source, ctx.signal);
    if (!found) throw new TransferError('SOURCE_MISSING', `the source object ${sourceLocation} does not exist`);
    return found;
  });
  const size = head.ContentLength ?? 0;
  const etag = head.ETag;
  const pinned = { ...source, ...(etag ? { etag } : {}) };
  report(0, size);

  const delivery: Delivery = target.capabilities?.renameToNew === false ? 'direct-write' : 'rename';
  const writePath = delivery === 'rename' ? target.tmpPath : target.path;
  const oursAlready = delivery === 'direct-write' && ctx.liveness.checkpoint.directWrite === target.path;
  const existing = await withTarget(ctx, target, `stat ${connector.locationOf(target.path)}`, (c) => c.statIfExists(target.path));
  if (existing && !oursAlready) {
    const outcome = await settleExisting(ctx, pinned, target, size, existing.size, source.knownSha256, delivery);
    report(size, size);
    return outcome;
  }
  if (delivery === 'direct-write') {
    if (!existing) {
      // Claim the final name without ever replacing a file; the checkpoint then says it is ours.
      const created = await withTarget(ctx, target, `create ${connector.locationOf(target.path)}`, async (c) => {
        try {
          await c.close(await c.open(target.path, OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.EXCL));
          return true;
        } catch (err) {
          if (sftpStatus(err) === SFTP_STATUS.FAILURE && (await c.statIfExists(target.path))) return false;
          throw err;
        }
      });
      if (!created) {
        const now = await withTarget(ctx, target, 'stat', (c) => c.statIfExists(target.path));
        return settleExisting(ctx, pinned, target, size, now?.size, source.knownSha256, delivery);
      }
    }
    if (!oursAlready) await ctx.liveness.saveCheckpoint({ delivery, directWrite: target.path });
  }

  const hash = new ResumableSha256(config.hashMarkBytes);
  let acknowledged = 0;
  try {
    let resumedAt = 0;
    await retrying(
      retryPolicyOf(config),
      retryOptions(ctx, `${sourceLocation} → ${connector.locationOf(target.path)}`, () => acknowledged > resumedAt),
      async () => {
        resumedAt = acknowledged;
        let writer: SftpWriteStream | undefined;
        let session: SftpSession | undefined;
        let moreChannels: SFTPWrapper[] = [];
        try {
          const connected = await connector.connect();
          session = connected.session;
          const { channel } = connected;
          if (acknowledged > 0) {
            // Resume only onto what is really there; if the file went away or shrank, start over.
            const partial = await channel.statIfExists(writePath);
            if (!partial || (partial.size ?? 0) < acknowledged) acknowledged = 0;
          }
          const start = hash.rewind(acknowledged);
          if (start > 0) ctx.logger.info('resuming after the acknowledged bytes', { location: writePath, resumeAt: start, size });
          const flags = start === 0 ? OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC : OPEN_FLAGS.WRITE;
          // Two handles on one file only where the partner's server was seen to keep both handles' writes.
          const channels = target.capabilities?.multiHandleWrite === true ? config.sftpWriteChannels : 1;
          moreChannels = await moreChannelsFor(session, size - start, channels, config);
          const body = await readObject(source.s3, source, { start, ...(etag ? { etag } : {}) }, ctx.signal);
          // Made right before the pipeline takes it: an error while opening needs a listener.
          writer = new SftpWriteStream(session.sftp, writePath, {
            flags,
            start,
            requestBytes: config.sftpRequestBytes,
            maxInFlight: config.sftpMaxInFlight,
            fsync: 'fsync@openssh.com' in session.supportedExtensions,
            where: connector.where,
            moreChannels,
          });
          const w = writer;
          await runPipeline([body, new HashingStream(hash), w], {
            signal: ctx.signal,
            stallTimeoutMs: config.stallTimeoutMs,
            position: () => w.acknowledgedOffset,
            onProgress: (position) => {
              report(position, size);
              hash.forgetBefore(position);
            },
          });
          acknowledged = w.acknowledgedOffset;
        } catch (err) {
          if (writer) acknowledged = Math.max(acknowledged, writer.acknowledgedOffset);
          const failure = sftpFailure(err, 'target', writePath, connector.where);
          if (failure.retryable) await connector.reset(session);
          throw failure;
        } finally {
          endChannels(moreChannels);
        }
      },
    );
    if (hash.position !== size) {
      throw new TransferError('SOURCE_CHANGED', `${sourceLocation} delivered ${hash.position} bytes; it has ${size}`);
    }
    const sha256 = hash.hex();
    const written = await withTarget(ctx, target, `stat ${writePath}`, (c) => c.stat(writePath));
    if (written.size !== size) {
      throw new TransferError(
        'SIZE_MISMATCH',
        `${connector.locationOf(writePath)} has ${written.size} bytes after writing ${size}`,
      );
    }
    if (delivery === 'rename') {
      const settled = await commitRename(ctx, pinned, target, size, sha256);
      if (settled) return settled;
    }
    return { bytes: size, sha256, location: connector.locationOf(target.path), alreadyPresent: false, delivery };
  } catch (err) {
    if (!(err instanceof LeaseLostError)) await removeQuietly(target, writePath);
    throw err;
  }
}

/**
 * Renames the temporary file to the final name, under a freshly confirmed
 * lease. Returns an outcome only when the final name turned out to be taken
 * by the same content (the temporary file is then removed).
 */
async function commitRename(
  ctx: HopContext,
  source: S3Source & { etag?: string },
  target: SftpDestination,
  size: number,
  sha256: string,
): Promise<SftpHopOutcome | undefined> {
  // Servers that let RENAME replace a file (some non-OpenSSH ones) are only held off by this check.
  const taken = await withTarget(ctx, target, 'stat before rename', (c) => c.statIfExists(target.path));
  if (!taken) {
    await ctx.liveness.confirmLease();
    const renamed = await withTarget(ctx, target, `rename to ${target.path}`, async (c) => {
      try {
        await c.rename(target.tmpPath, target.path);
        return true;
      } catch (err) {
        // SFTP v3: RENAME onto an existing name fails (FAILURE); anything else is a real refusal.
        if (sftpStatus(err) !== undefined && (await c.statIfExists(target.path))) return false;
        throw err;
      }
    });
    if (renamed) return undefined;
  }
  const now = await withTarget(ctx, target, 'stat', (c) => c.statIfExists(target.path));
  const outcome = await settleExisting(ctx, source, target, size, now?.size, sha256, 'rename');
  await removeQuietly(target, target.tmpPath);
  return outcome;
}
