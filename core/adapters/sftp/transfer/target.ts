/**
 * A file on an SFTP server as a transfer's target: the pipelined writer
 * (SftpWriteStream).
 *
 * Delivery ("the final name is never visible with partial content"):
 * - 'rename' (default): write `<final>.eft-<chain>.tmp`, check its size on
 *   the server, confirm the lease, then RENAME it to the final name. SFTP v3
 *   RENAME fails if the final name exists, so a file that appeared meanwhile
 *   is never replaced. The temporary name is per re-drive chain (the first
 *   job's id: TransferJob.chainId), so two chains delivering to one name
 *   cannot mix their bytes, and every attempt of every job of a chain writes
 *   the same one: a killed attempt's file is truncated and overwritten by the
 *   next (a resumed job or a re-drive), or removed by it when the final name
 *   is taken meanwhile. The jobs of a chain run one after another (a
 *   re-drive continues the chain only once its job has ended; see redriveJob).
 * - 'direct-write', when the endpoint's validated capabilities say the server
 *   refuses renames: the final name is created with EXCL (never replacing a
 *   file) and written in place; the job's checkpoint records
 *   `{ delivery: 'direct-write', directWrite: <path> }`, so a retry knows the
 *   partial file is its own and may rewrite it. Partial content IS visible
 *   during such a transfer; the partner chose that by forbidding renames.
 *
 * A broken connection resumes at the last hash snapshot below the bytes the
 * server acknowledged (WRITEs carry explicit offsets, so re-sending is
 * harmless). On failure or stop the partial file is removed (best effort,
 * logged when it cannot be); on loss of the lease it is left alone: the job
 * has a new owner, or gets a re-drive, that writes the same temporary name,
 * and removing it could cut that owner's file from under it.
 *
 * A target folder that does not exist is created (mkdir -p, tolerant of a
 * concurrent creator) before anything is written, unless the job says
 * createDirectories: false; then the write fails with TARGET_PATH_MISSING.
 */
import { posix } from 'node:path';
import type { SftpCapabilities } from '../../../domain/endpoint';
import { LeaseLostError, TransferError } from '../../../domain/transfer/errors';
import type { Committed, ExistingFile, FileSink, FileTarget, TransferIo } from '../../../domain/transfer/io';
import { retryingIn } from '../../../domain/transfer/retry';
import type { SftpSession } from '../connect';
import { endChannels, moreChannelsFor, OPEN_FLAGS, SFTP_STATUS, type SftpChannel, sftpFailure, sftpStatus } from './channel';
import type { SftpConnector } from './connector';
import { sha256OfSftpFile } from './content-hash';
import { SftpWriteStream } from './write-stream';

/** The temporary name next to the final one: per re-drive chain, the same for every attempt of its jobs. */
export { temporaryPathFor } from '../../../domain/transfer/temporary-name';

const CLEANUP_TIMEOUT_MS = 5000;

export class SftpFileTarget implements FileTarget {
  readonly location: string;
  readonly resumesAfter = 'the acknowledged bytes';
  private readonly delivery: 'rename' | 'direct-write';
  /** Where the content is written: the temporary name, or the final one for direct-write. */
  private readonly writePath: string;
  private size = 0;
  /** Acknowledged by the server before the current attempt. */
  private acknowledged = 0;
  private writer: SftpWriteStream | undefined;
  /** The session of the latest attempt: a reset after it failed leaves a newer one (another file's) alone. */
  private session: SftpSession | undefined;

  constructor(
    private readonly connector: SftpConnector,
    private readonly path: string,
    tmpPath: string,
    private readonly capabilities: SftpCapabilities | undefined,
    private readonly io: TransferIo,
    private readonly createDirectories = true,
    /** An earlier attempt of the chain ran: a file it left under the temporary name is removed if not reused. */
    private readonly retried = false,
  ) {
    this.location = connector.locationOf(path);
    this.delivery = capabilities?.renameToNew === false ? 'direct-write' : 'rename';
    this.writePath = this.delivery === 'rename' ? tmpPath : path;
  }

  async existing(): Promise<ExistingFile | undefined> {
    const stats = await this.withTarget(`stat ${this.location}`, (c) => c.statIfExists(this.path));
    return stats ? { bytes: stats.size } : undefined;
  }

  /** Read back over SFTP (see content-hash.ts). */
  sha256(): Promise<string> {
    return sha256OfSftpFile(this.io, this.connector, this.path, 'target');
  }

  async prepare(size: number): Promise<ExistingFile | undefined> {
    const { io, path, delivery } = this;
    this.size = size;
    const oursAlready = delivery === 'direct-write' && io.job.checkpoint.directWrite === path;
    const existing = await this.existing();
    if (existing && !oursAlready) {
      // Nothing will be written: what a killed attempt of the chain left under the temporary name goes now.
      if (delivery === 'rename' && this.retried) await this.removeWritten();
      return existing;
    }
    if (!existing && this.createDirectories) {
      const folder = posix.dirname(path);
      await this.withTarget(`create folder ${this.connector.locationOf(folder)}`, (c) => this.connector.ensureFolder(c, folder));
    }
    if (delivery === 'direct-write') {
      if (!existing && !(await this.claim())) {
        const now = await this.existing();
        if (!now) throw new TransferError('TARGET_EXISTS', `${this.location} was created and removed by someone else meanwhile`);
        return now;
      }
      if (!oursAlready) await io.job.saveCheckpoint({ delivery, directWrite: path });
    }
    return undefined;
  }

  resumeStep(): number {
    return this.io.tunables.hashMarkBytes;
  }

  kept(): number {
    return Math.max(this.acknowledged, this.writer?.acknowledgedOffset ?? 0);
  }

  async resume(): Promise<number> {
    this.acknowledged = this.kept();
    this.writer = undefined;
    this.session = undefined;
    if (this.acknowledged > 0) {
      const connected = await this.connector.connect();
      this.session = connected.session;
      // Resume only onto what is really there; if the file went away or shrank, start over.
      const partial = await connected.channel.statIfExists(this.writePath);
      if (!partial || (partial.size ?? 0) < this.acknowledged) this.acknowledged = 0;
    }
    return this.acknowledged;
  }

  async sink(offset: number): Promise<FileSink> {
    const { tunables } = this.io;
    const { session } = await this.connector.connect();
    this.session = session;
    const flags = offset === 0 ? OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC : OPEN_FLAGS.WRITE;
    // Two handles on one file only where the partner's server was seen to keep both handles' writes.
    const channels = this.capabilities?.multiHandleWrite === true ? tunables.sftpWriteChannels : 1;
    const moreChannels = await moreChannelsFor(session, this.size - offset, channels, tunables);
    const writer = new SftpWriteStream(session.sftp, this.writePath, {
      flags,
      start: offset,
      requestBytes: tunables.sftpRequestBytes,
      maxInFlight: tunables.sftpMaxInFlight,
      fsync: 'fsync@openssh.com' in session.supportedExtensions,
      where: this.connector.where,
      moreChannels,
      bytes: this.size - offset,
    });
    writer.once('close', () => endChannels(moreChannels));
    this.writer = writer;
    return writer;
  }

  async commit(): Promise<Committed | undefined> {
    const { writePath, size, path } = this;
    const written = await this.withTarget(`stat ${writePath}`, (c) => c.stat(writePath));
    if (written.size !== size) {
      throw new TransferError(
        'SIZE_MISMATCH',
        `${this.connector.locationOf(writePath)} has ${written.size} bytes after writing ${size}`,
      );
    }
    if (this.delivery === 'direct-write') return {};
    // Servers that let RENAME replace a file (some non-OpenSSH ones) are only held off by this check.
    if (await this.withTarget('stat before rename', (c) => c.statIfExists(path))) return undefined;
    await this.io.job.confirmLease();
    const renamed = await this.withTarget(`rename to ${path}`, async (c) => {
      try {
        await c.rename(writePath, path);
        return true;
      } catch (err) {
        // SFTP v3: RENAME onto an existing name fails (FAILURE); anything else is a real refusal.
        if (sftpStatus(err) !== undefined && (await c.statIfExists(path))) return false;
        throw err;
      }
    });
    return renamed ? {} : undefined;
  }

  async abort(reason?: unknown): Promise<void> {
    if (reason instanceof LeaseLostError) {
      this.io.logger.info('lease lost: the partial file is left to the next attempt of the job, which reuses it', {
        path: this.writePath,
      });
      return;
    }
    await this.removeWritten();
  }

  failure(error: unknown): unknown {
    return sftpStatus(error) === undefined ? error : sftpFailure(error, 'target', this.writePath, this.connector.where);
  }

  reset(): Promise<void> {
    return this.connector.reset(this.session);
  }

  /**
   * Removes the file at the write path, best effort: a failure is logged, not thrown (the next attempt of
   * the chain reuses or removes the file). Bounded in time: this also runs on SIGTERM, within ECS's stop timeout.
   */
  private async removeWritten(): Promise<void> {
    const { writePath, connector, io } = this;
    const attempt = (async (): Promise<string | undefined> => {
      try {
        const { channel } = await connector.connect();
        await channel.unlink(writePath);
      } catch (err) {
        if (sftpStatus(err) !== SFTP_STATUS.NO_SUCH_FILE) return err instanceof Error ? err.message : String(err);
      }
      return undefined;
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${CLEANUP_TIMEOUT_MS} ms`), CLEANUP_TIMEOUT_MS);
    });
    const failure = await Promise.race([attempt, timeout]);
    clearTimeout(timer);
    if (failure !== undefined) {
      io.logger.warn('the partial file could not be removed; the next attempt of the job reuses or removes it', {
        location: connector.locationOf(writePath),
        error: connector.scrub(failure),
      });
    }
  }

  /** Claims the final name without ever replacing a file; false if someone else's file has it. */
  private claim(): Promise<boolean> {
    const { path } = this;
    return this.withTarget(`create ${this.location}`, async (c) => {
      try {
        await c.close(await c.open(path, OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.EXCL));
        return true;
      } catch (err) {
        if (sftpStatus(err) === SFTP_STATUS.FAILURE && (await c.statIfExists(path))) return false;
        throw err;
      }
    });
  }

  /** Runs `action` with the target channel, retrying transient failures on a new session. */
  private withTarget<T>(what: string, action: (channel: SftpChannel) => Promise<T>): Promise<T> {
    const { connector } = this;
    return retryingIn(this.io, what, async () => {
      let session: SftpSession | undefined;
      try {
        const connected = await connector.connect();
        session = connected.session;
        return await action(connected.channel);
      } catch (err) {
        const failure = sftpFailure(err, 'target', this.path, connector.where);
        if (failure.retryable) await connector.reset(session);
        throw failure;
      }
    });
  }
}
