/**
 * Promise wrappers for the raw ssh2 SFTP channel (SFTPWrapper), with the one
 * guard ssh2 lacks: once the channel has closed, ssh2 silently drops new
 * requests and their callbacks never run, so a transfer would hang forever.
 * Every request here (and every READ/WRITE of the pipelined streams) fails
 * with CONNECTION_LOST instead, as soon as the channel is gone.
 */
import { posix } from 'node:path';
import type { SFTPWrapper, Stats } from 'ssh2';
import { connectionLost, TransferError, toTransferError } from '../../../domain/transfer/errors';

/** SFTP v3 status codes, as ssh2 reports them in `err.code`. */
export const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  OP_UNSUPPORTED: 8,
} as const;

/** SSH_FXF_* open flags (ssh2 accepts the number as well as its 'w'/'wx' strings). */
export const OPEN_FLAGS = { READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 } as const;

/** The status code the server answered with, or undefined for a local or connection failure. */
export function sftpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * The error of a request's callback, with channel-level failures made
 * CONNECTION_LOST: a reply carries a status code; ssh2 fails every request
 * still outstanding when the channel closes with a plain "No response from server".
 */
export function requestError(err: Error, where: string): Error {
  return sftpStatus(err) === undefined ? connectionLost(where, err) : err;
}

/** True once the channel can carry no more requests (ssh2 has ended its incoming side). */
export function isChannelClosed(sftp: SFTPWrapper): boolean {
  return (sftp as unknown as { readable?: boolean }).readable === false;
}

/**
 * Calls `listener` once when the channel closes (at once if it already has).
 * ssh2 emits 'end' when the channel closes for any reason, including a dead
 * TCP connection. Returns the function that unsubscribes.
 */
export function onChannelLost(sftp: SFTPWrapper, listener: () => void): () => void {
  if (isChannelClosed(sftp)) {
    queueMicrotask(listener);
    return () => {};
  }
  let fired = false;
  const handler = () => {
    if (fired) return;
    fired = true;
    unsubscribe();
    listener();
  };
  const unsubscribe = () => {
    sftp.off('end', handler);
    sftp.off('close', handler);
  };
  sftp.on('end', handler);
  sftp.on('close', handler);
  return unsubscribe;
}

// ssh2 splits a READ or WRITE larger than these into sequential requests,
// which would defeat pipelining; the streams clamp their request size to them.
// ssh2 sets them from the server's limits@openssh.com reply (OpenSSH >= 8.6)
// or its defaults (~254 KiB for OpenSSH, ~31 KiB for other servers).
const FALLBACK_REQUEST_LENGTH = 32 * 1024 - 2048;

/** The largest READ that ssh2 sends as one request on this channel. */
export function maxReadLength(sftp: SFTPWrapper): number {
  const value = (sftp as unknown as { _maxReadLen?: unknown })._maxReadLen;
  return typeof value === 'number' && value > 0 ? value : FALLBACK_REQUEST_LENGTH;
}

/** The largest WRITE that ssh2 sends as one request on this channel. */
export function maxWriteLength(sftp: SFTPWrapper): number {
  const value = (sftp as unknown as { _maxWriteLen?: unknown })._maxWriteLen;
  return typeof value === 'number' && value > 0 ? value : FALLBACK_REQUEST_LENGTH;
}

type Callback<T> = (err: Error | null | undefined, value?: T) => void;

/** File operations on one SFTP channel, each a promise that also fails when the channel is lost. */
export class SftpChannel {
  constructor(
    readonly sftp: SFTPWrapper,
    /** For messages: "sftp://host:port". */
    readonly where: string,
  ) {}

  private call<T>(issue: (cb: Callback<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const stop = onChannelLost(this.sftp, () => reject(connectionLost(this.where)));
      try {
        issue((err, value) => {
          stop();
          if (err) reject(requestError(err, this.where));
          else resolve(value as T);
        });
      } catch (err) {
        stop();
        reject(err);
      }
    });
  }

  open(path: string, flags: number, mode = 0o644): Promise<Buffer> {
    return this.call<Buffer>((cb) => this.sftp.open(path, flags, { mode }, (err, handle) => cb(err, handle)));
  }

  close(handle: Buffer): Promise<void> {
    return this.call<void>((cb) => this.sftp.close(handle, (err) => cb(err)));
  }

  /** fsync@openssh.com: the file's data is on the server's disk. */
  fsync(handle: Buffer): Promise<void> {
    return this.call<void>((cb) => this.sftp.ext_openssh_fsync(handle, (err) => cb(err)));
  }

  stat(path: string): Promise<Stats> {
    return this.call<Stats>((cb) => this.sftp.stat(path, (err, stats) => cb(err, stats)));
  }

  /** The stats of `path`, or undefined if it does not exist. */
  async statIfExists(path: string): Promise<Stats | undefined> {
    try {
      return await this.stat(path);
    } catch (err) {
      if (sftpStatus(err) === SFTP_STATUS.NO_SUCH_FILE) return undefined;
      throw err;
    }
  }

  unlink(path: string): Promise<void> {
    return this.call<void>((cb) => this.sftp.unlink(path, (err) => cb(err)));
  }

  mkdir(path: string): Promise<void> {
    return this.call<void>((cb) => this.sftp.mkdir(path, (err) => cb(err)));
  }

  /**
   * mkdir -p: creates the folder `path` and every missing parent. A folder that
   * someone else creates meanwhile (another file of the batch, another job, the
   * partner) is fine: a refused MKDIR counts if a folder is there afterwards.
   */
  async ensureFolder(path: string): Promise<void> {
    const stats = await this.statIfExists(path);
    if (stats) {
      if (stats.isDirectory()) return;
      throw new TransferError('TARGET_PATH_MISSING', `${path} on ${this.where} is a file, not a folder`);
    }
    const parent = posix.dirname(path);
    if (parent !== path) await this.ensureFolder(parent);
    try {
      await this.mkdir(path);
    } catch (err) {
      if (sftpStatus(err) === undefined) throw err;
      const now = await this.statIfExists(path);
      if (now?.isDirectory()) return;
      throw err;
    }
  }

  /** SFTP v3 RENAME: fails when `to` exists (on servers that follow the spec). */
  rename(from: string, to: string): Promise<void> {
    return this.call<void>((cb) => this.sftp.rename(from, to, (err) => cb(err)));
  }
}

/**
 * An SFTP failure on a file as a TransferError. `role` says whose file it is:
 * a missing source is SOURCE_MISSING, a missing target folder TARGET_PATH_MISSING.
 * Replies other than a status (a lost connection) are classified generically.
 */
export function sftpFailure(err: unknown, role: 'source' | 'target', path: string, where: string): TransferError {
  if (err instanceof TransferError) return err;
  const status = sftpStatus(err);
  if (status === undefined) return toTransferError(err);
  if (status === SFTP_STATUS.NO_SUCH_FILE) {
    return role === 'source'
      ? new TransferError('SOURCE_MISSING', `the source file ${path} does not exist on ${where}`, { cause: err })
      : new TransferError('TARGET_PATH_MISSING', `the target folder of ${path} does not exist on ${where}`, { cause: err });
  }
  if (status === SFTP_STATUS.PERMISSION_DENIED) {
    return new TransferError('PERMISSION_DENIED', `${where} denied access to ${path}`, { cause: err });
  }
  const detail = err instanceof Error && err.message ? `: ${err.message}` : '';
  return new TransferError('SFTP_FAILURE', `${where} refused an operation on ${path}${detail}`, { cause: err });
}

/**
 * One SFTP channel a pipelined stream sends its requests over, with the file's
 * handle on that channel. A stream given more channels of the same connection
 * (moreChannels) spreads its requests over them: each SSH channel has its own
 * flow-control window, so on a long link n channels keep n windows on the way.
 */
export interface SftpLane {
  channel: SftpChannel;
  handle?: Buffer;
}

export function lanesOver(channels: SFTPWrapper[], where: string): SftpLane[] {
  return channels.map((sftp) => ({ channel: new SftpChannel(sftp, where) }));
}

/** Calls `onLost` as soon as any lane's channel is gone; returns the unsubscribe. */
export function watchLanes(lanes: SftpLane[], onLost: () => void): () => void {
  const stops = lanes.map((lane) => onChannelLost(lane.channel.sftp, onLost));
  return () => {
    for (const stop of stops) stop();
  };
}

/**
 * Sends CLOSE for the handle of every lane, not awaited: a stalled or dead
 * connection must not hold up an abort, and the server handles the CLOSE
 * before any later request (such as removing a partial file) anyway.
 */
export function closeLanesQuietly(lanes: SftpLane[]): void {
  for (const lane of lanes) {
    const handle = lane.handle;
    lane.handle = undefined;
    if (handle) lane.channel.close(handle).catch(() => undefined);
  }
}

/**
 * Opens the file on every lane and returns the lanes that have it open. The
 * first must succeed (its error is the stream's); a further lane that cannot
 * open it is left out, as a server's rules may forbid a second handle on one
 * file (Windows file sharing) while the transfer itself is fine on one.
 */
export async function openOnLanes(
  lanes: SftpLane[],
  openFirst: (channel: SftpChannel) => Promise<Buffer>,
  openOther: (channel: SftpChannel) => Promise<Buffer>,
): Promise<SftpLane[]> {
  const [first, ...others] = lanes as [SftpLane, ...SftpLane[]];
  first.handle = await openFirst(first.channel);
  const opened = await Promise.all(
    others.map(async (lane) => {
      try {
        lane.handle = await openOther(lane.channel);
        return lane;
      } catch {
        return undefined;
      }
    }),
  );
  return [first, ...opened.filter((lane): lane is SftpLane => lane !== undefined)];
}

/**
 * The further channels a stream of `size` bytes spreads its requests over:
 * `channels - 1` of them for files of `minBytes` and more on a link whose
 * round trip is `minRttMs` or more (fewer if the server refuses some), none
 * otherwise. The caller ends them with endChannels.
 */
export async function moreChannelsFor(
  session: { openChannels(count: number): Promise<SFTPWrapper[]>; roundTripMs(): Promise<number> },
  size: number,
  channels: number,
  limits: { sftpChannelsMinBytes: number; sftpChannelsMinRttMs: number },
): Promise<SFTPWrapper[]> {
  if (channels < 2 || size < limits.sftpChannelsMinBytes) return [];
  if ((await session.roundTripMs()) < limits.sftpChannelsMinRttMs) return [];
  return session.openChannels(channels - 1);
}

export function endChannels(channels: SFTPWrapper[]): void {
  for (const channel of channels) channel.end();
}
