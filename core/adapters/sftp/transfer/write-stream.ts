/**
 * A pipelined SFTP file writer: a Node Writable over the raw ssh2 channel that
 * keeps up to `maxInFlight` WRITE requests outstanding at increasing offsets.
 *
 * Why: ssh2's createWriteStream waits for each WRITE's reply before sending
 * the next, so throughput is requestSize / RTT. Here WRITEs are sent as long
 * as fewer than `maxInFlight` are unanswered, which keeps the link full; when
 * the window is full, the rest of the current chunk waits for replies and its
 * write callback is held back: Node's backpressure on the producer (S3
 * GetObject, or the staging download).
 *
 * Chunks (HTTP bodies arrive in 64 KiB pieces) are copied into request
 * buffers of `requestBytes`, so the request count stays low, and each WRITE
 * goes out from its buffer without ssh2's own copy (write-request.ts). A
 * buffer is filled again once its WRITE is answered: at most maxInFlight + 1
 * exist, reused for the whole file, so a transfer allocates no per-request
 * buffers (whose churn drove V8's full collections).
 *
 * `acknowledgedOffset` is the resume point: every byte below it has been
 * acknowledged by the server. `_final` waits for all replies and closes the
 * handle, reporting a failed CLOSE (some servers report write errors there);
 * only then has the stream finished. Any error reply, or the channel closing,
 * destroys the stream with that error.
 *
 * With `moreChannels` (other SFTP channels of the same SSH connection) the
 * file is created on the first and opened for writing on the others, and the
 * WRITEs take turns among them (SftpLane: each channel has its own SSH window,
 * which the server sets: OpenSSH gives 2 MiB).
 */
import { Writable } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';
import { connectionLost } from '../../../domain/transfer/errors';
import {
  closeLanesQuietly,
  lanesOver,
  maxWriteLength,
  OPEN_FLAGS,
  openOnLanes,
  requestError,
  type SftpLane,
  watchLanes,
} from './channel';
import { DATA_OFFSET, type DirectWrites, directWrites } from './write-request';

export interface SftpWriteStreamOptions {
  /** SSH_FXF_* open flags. Default WRITE | CREAT | TRUNC. Use EXCL to refuse an existing file. */
  flags?: number;
  /** Offset of the first byte written (to resume; open without TRUNC then). Default 0. */
  start?: number;
  /** Permissions of a created file. Default 0o644. */
  mode?: number;
  /** Bytes per WRITE; clamped to what ssh2 sends as one request on this channel. Default 255 KiB. */
  requestBytes?: number;
  /** WRITE requests outstanding at once. Default 64. */
  maxInFlight?: number;
  /** fsync@openssh.com before closing, so the data is durable before the file is renamed into place. */
  fsync?: boolean;
  /** For error messages, e.g. "sftp://host:22". */
  where?: string;
  /** Further SFTP channels of the same connection to spread the WRITEs over. */
  moreChannels?: SFTPWrapper[];
  /**
   * How many bytes the caller will write, when it knows: the request buffers this file can use
   * (at most maxInFlight + 1) are allocated and written once at the start, rather than when the
   * depth in flight first reaches each level. A server pausing its replies can make that happen all
   * at once, mid-file: 16 MiB more buffers live, and V8's next full collection (started by 64 MiB
   * of external memory allocated since the last) comes on top of them, so glibc's heap stepped
   * from 71 to 86 MiB at 20–40 % of a 1 GiB upload in 2 rounds of 5 (the RSS ±9–10 %).
   */
  bytes?: number;
}

export const DEFAULT_WRITE_REQUEST_BYTES = 255 * 1024;
export const DEFAULT_WRITE_MAX_IN_FLIGHT = 64;

type Done = (error?: Error | null) => void;

export class SftpWriteStream extends Writable {
  private lanes: SftpLane[];
  /** Each channel's WRITEs without ssh2's copy (write-request.ts), where its internals allow. */
  private readonly direct = new Map<SFTPWrapper, DirectWrites | undefined>();
  private issued = 0;
  private readonly requestBytes: number;
  private readonly maxInFlight: number;
  private readonly where: string;
  private offset: number;
  /** The request being filled (its data at DATA_OFFSET), and how much of it is. */
  private filling: Buffer | undefined;
  private coalesced = 0;
  /** Request buffers whose WRITE was answered, to fill again: at most maxInFlight + 1 exist. */
  private readonly spare: Buffer[] = [];
  /** Start offsets of the WRITEs not yet answered. */
  private readonly outstanding = new Set<number>();
  /** The chunk being sent, when the window filled up before all of it was. */
  private current: { chunk: Buffer; at: number; done: Done } | undefined;
  /** _final's continuation, waiting for the window to have room or be empty. */
  private held: { ready: () => boolean; done: () => void } | undefined;
  private stopWatching: (() => void) | undefined;

  constructor(
    sftp: SFTPWrapper,
    private readonly path: string,
    private readonly options: SftpWriteStreamOptions = {},
  ) {
    const channels = [sftp, ...(options.moreChannels ?? [])];
    const maxWrite = Math.min(...channels.map(maxWriteLength));
    const requestBytes = Math.max(1, Math.min(options.requestBytes ?? DEFAULT_WRITE_REQUEST_BYTES, maxWrite));
    super({ highWaterMark: requestBytes, decodeStrings: true });
    this.requestBytes = requestBytes;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_WRITE_MAX_IN_FLIGHT);
    this.offset = options.start ?? 0;
    this.where = options.where ?? 'the SFTP server';
    this.lanes = lanesOver(channels, this.where);
    for (const channel of channels) this.direct.set(channel, directWrites(channel));
    const requests = Math.min(this.maxInFlight + 1, Math.ceil((options.bytes ?? 0) / requestBytes));
    for (let i = 0; i < requests; i++) {
      // Written, not only allocated: glibc hands out untouched pages for a buffer this size, and they
      // would enter the RSS only when the depth in flight first reached them, the same step as before.
      // spare is a stack, so without a pause only the last few buffers are ever used.
      this.spare.push(this.newRequestBuffer().fill(0));
    }
  }

  private newRequestBuffer(): Buffer {
    return Buffer.allocUnsafeSlow(DATA_OFFSET + this.requestBytes);
  }

  /** Every byte below this file offset has been written and acknowledged. */
  get acknowledgedOffset(): number {
    let lowest = this.offset - this.coalesced;
    for (const start of this.outstanding) lowest = Math.min(lowest, start);
    return lowest;
  }

  /** The acknowledged offset: how far the server has taken the file (the stall watchdog's position). */
  get position(): number {
    return this.acknowledgedOffset;
  }

  override _construct(callback: Done): void {
    this.stopWatching = watchLanes(this.lanes, () => this.destroy(connectionLost(this.where)));
    const flags = this.options.flags ?? OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC;
    const mode = this.options.mode ?? 0o644;
    // The first open creates (or truncates, or refuses) the file; the others only open what it made.
    openOnLanes(
      this.lanes,
      (channel) => channel.open(this.path, flags, mode),
      (channel) => channel.open(this.path, OPEN_FLAGS.WRITE, mode),
    ).then(
      (lanes) => {
        this.lanes = lanes;
        callback();
      },
      (err: Error) => callback(err),
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Done): void {
    this.current = { chunk, at: 0, done: callback };
    this.consume();
  }

  override _final(callback: Done): void {
    // The last partial request needs a free slot; then every reply must be in.
    this.hold(
      () => this.outstanding.size < this.maxInFlight,
      () => {
        this.flushCoalesced();
        this.hold(
          () => this.outstanding.size === 0,
          () =>
            this.finishFile().then(
              () => callback(),
              (e: Error) => callback(e),
            ),
        );
      },
    );
  }

  /**
   * Sends as much of the current chunk as the window allows; the rest waits
   * for replies (release). The chunk's callback runs once all of it is sent
   * or coalesced, which is what lets the producer go on.
   */
  private consume(): void {
    const current = this.current;
    if (!current) return;
    const { chunk } = current;
    while (current.at < chunk.length) {
      if (this.outstanding.size >= this.maxInFlight) return;
      if (!this.filling) this.filling = this.spare.pop() ?? this.newRequestBuffer();
      const filling = this.filling;
      const n = Math.min(this.requestBytes - this.coalesced, chunk.length - current.at);
      chunk.copy(filling, DATA_OFFSET + this.coalesced, current.at, current.at + n);
      this.coalesced += n;
      current.at += n;
      if (this.coalesced === this.requestBytes) this.flushCoalesced();
    }
    this.current = undefined;
    current.done();
  }

  override _destroy(error: Error | null, callback: Done): void {
    this.stopWatching?.();
    this.held = undefined;
    this.current = undefined;
    closeLanesQuietly(this.lanes);
    callback(error);
  }

  /** Syncs (if asked) and closes the file on every channel: a server may keep a handle's writes until then. */
  private async finishFile(): Promise<void> {
    await Promise.all(
      this.lanes.map(async (lane) => {
        const handle = lane.handle as Buffer;
        if (this.options.fsync) await lane.channel.fsync(handle);
        lane.handle = undefined;
        await lane.channel.close(handle);
      }),
    );
  }

  private flushCoalesced(): void {
    const buffer = this.filling;
    if (!buffer || this.coalesced === 0) return;
    const length = this.coalesced;
    this.filling = undefined;
    this.coalesced = 0;
    this.send(buffer, length);
  }

  /** WRITE of buffer[DATA_OFFSET, +length) at the next offset; the buffer is spare again once answered. */
  private send(buffer: Buffer, length: number): void {
    const start = this.offset;
    this.offset += length;
    this.outstanding.add(start);
    const lane = this.lanes[this.issued++ % this.lanes.length] as SftpLane;
    const answered = (err?: Error | null) => {
      if (this.destroyed) return;
      if (err) {
        this.destroy(requestError(err, this.where));
        return;
      }
      this.spare.push(buffer);
      this.outstanding.delete(start);
      this.release();
    };
    try {
      const direct = this.direct.get(lane.channel.sftp);
      if (direct) direct.write(lane.handle as Buffer, buffer, length, start, answered);
      else lane.channel.sftp.write(lane.handle as Buffer, buffer, DATA_OFFSET, length, start, answered);
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  private hold(ready: () => boolean, done: () => void): void {
    if (ready()) {
      done();
      return;
    }
    this.held = { ready, done };
  }

  /** A reply freed a slot: carry on with the current chunk, or with _final. */
  private release(): void {
    this.consume();
    const held = this.held;
    if (held?.ready()) {
      this.held = undefined;
      held.done();
    }
  }
}
