/**
 * A pipelined SFTP file reader: a Node Readable over the raw ssh2 channel that
 * keeps many READ requests in flight at increasing offsets and delivers their
 * data strictly in file order.
 *
 * Why: ssh2's createReadStream has ONE request outstanding, so every request
 * costs a full round trip and throughput collapses to requestSize / RTT
 * (32 KiB over a 20 ms link is 1.6 MiB/s). OpenSSH's sftp keeps 64 requests
 * outstanding; so does this reader by default, which fills the link instead.
 *
 * How:
 * - `slots` is the window: one entry per request, in file order, each either
 *   pending or done (data received). Its length is capped at `maxInFlight`, so
 *   memory is bounded by maxInFlight x requestBytes whatever the file size.
 * - Reads are issued only while the consumer wants data (Readable `_read`);
 *   when `push` reports a full buffer we stop issuing, and completed slots wait
 *   in the window until the consumer catches up (backpressure).
 * - A short read (fewer bytes than asked, before EOF; servers may cap a reply)
 *   inserts a request for the rest right after its slot, so order holds.
 * - The first EOF in file order ends the stream; replies to the speculative
 *   requests issued past it are ignored. Given the file's `size`, requests
 *   stop there (the last one shortened) and one 1-byte read past it checks
 *   for EOF: a small file costs one READ, not a window of 64 × 255 KiB
 *   buffers, and a file that grew is refused (SOURCE_CHANGED).
 * - Any error reply, or the channel closing, destroys the stream with it.
 * - With `moreChannels` (other SFTP channels of the same SSH connection) the
 *   file is opened on each and the requests take turns among them (SftpLane:
 *   each channel has its own SSH window); the slots keep file order.
 */
import { Readable } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';
import { connectionLost, TransferError } from '../../../domain/transfer/errors';
import {
  closeLanesQuietly,
  lanesOver,
  maxReadLength,
  OPEN_FLAGS,
  openOnLanes,
  requestError,
  type SftpChannel,
  type SftpLane,
  watchLanes,
} from './channel';

export interface SftpReadStreamOptions {
  /** Offset of the first byte to read (to resume). Default 0. */
  start?: number;
  /** Bytes asked for per READ; clamped to what ssh2 sends as one request on this channel. Default 255 KiB. */
  requestBytes?: number;
  /** READ requests outstanding at once (including replies not yet consumed). Default 64. */
  maxInFlight?: number;
  /** For error messages, e.g. "sftp://host:22". */
  where?: string;
  /** The file's size, if known (stat): nothing is requested past it but the EOF check. */
  size?: number;
  /** Further SFTP channels of the same connection to spread the requests over. */
  moreChannels?: SFTPWrapper[];
}

export const DEFAULT_REQUEST_BYTES = 255 * 1024;
export const DEFAULT_MAX_IN_FLIGHT = 64;
/**
 * Replies are read into chunks of about this size, several consecutive READs
 * each, and handed on whole: the hash, the file or S3 part and the stream
 * machinery then work per MiB instead of per 255 KiB reply (fewer buffers,
 * calls and writes; issue 18's profile).
 */
export const CHUNK_BYTES = 1024 * 1024;

/** A buffer that consecutive READs fill, handed on once every byte of it has arrived. */
interface Chunk {
  /** File offset of buffer[0]. */
  offset: number;
  buffer: Buffer;
  /** Bytes of it assigned to READs so far (they are issued in file order). */
  assigned: number;
  /** Bytes arrived, counted in file order as slots are delivered. */
  ready: number;
}

interface Slot {
  offset: number;
  length: number;
  chunk: Chunk;
  done: boolean;
  /** Bytes the reply carried (into chunk.buffer at offset - chunk.offset). */
  received: number;
  eof?: boolean;
}

export class SftpReadStream extends Readable {
  /** Bytes delivered to the consumer so far. */
  bytesRead = 0;
  private lanes: SftpLane[];
  private issued = 0;
  private readonly requestBytes: number;
  private readonly chunkBytes: number;
  private readonly maxInFlight: number;
  private readonly where: string;
  private readonly size: number | undefined;
  /** The 1-byte read at `size` that must find EOF, once issued. */
  private endCheck: Slot | undefined;
  private slots: Slot[] = [];
  /** The chunk new READs go into, until it is fully assigned. */
  private filling: Chunk | undefined;
  private nextOffset: number;
  private eofSeen = false;
  private ended = false;
  private wanted = false;
  private stopWatching: (() => void) | undefined;

  constructor(
    sftp: SFTPWrapper,
    private readonly path: string,
    options: SftpReadStreamOptions = {},
  ) {
    const channels = [sftp, ...(options.moreChannels ?? [])];
    const maxRead = Math.min(...channels.map(maxReadLength));
    const requestBytes = Math.max(1, Math.min(options.requestBytes ?? DEFAULT_REQUEST_BYTES, maxRead));
    const maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    // A chunk's READs must fit in the window many times over, or the window would wait for whole chunks.
    const readsPerChunk = Math.max(1, Math.min(Math.floor(CHUNK_BYTES / requestBytes), Math.floor(maxInFlight / 4)));
    // Node's own buffer holds about one chunk; the window is the real buffer.
    super({ highWaterMark: readsPerChunk * requestBytes });
    this.requestBytes = requestBytes;
    this.chunkBytes = readsPerChunk * requestBytes;
    this.maxInFlight = maxInFlight;
    this.nextOffset = options.start ?? 0;
    this.where = options.where ?? 'the SFTP server';
    this.size = options.size;
    this.lanes = lanesOver(channels, this.where);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.stopWatching = watchLanes(this.lanes, () => this.destroy(connectionLost(this.where)));
    const open = (channel: SftpChannel) => channel.open(this.path, OPEN_FLAGS.READ);
    openOnLanes(this.lanes, open, open).then(
      (lanes) => {
        this.lanes = lanes;
        callback();
      },
      (err: Error) => callback(err),
    );
  }

  override _read(): void {
    this.wanted = true;
    this.pump();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.stopWatching?.();
    this.ended = true;
    this.slots = [];
    this.filling = undefined;
    closeLanesQuietly(this.lanes);
    callback(error);
  }

  /** Delivers completed chunks in order while the consumer wants data, then tops the window up. */
  private pump(): void {
    while (this.wanted && !this.ended) {
      const head = this.slots[0];
      if (!head?.done) break;
      this.slots.shift();
      const chunk = head.chunk;
      if (head.eof) {
        // What arrived of this chunk before the end, then the end.
        this.ended = true;
        this.slots = [];
        if (chunk.ready > 0) this.deliver(chunk.buffer.subarray(0, chunk.ready));
        this.push(null);
        return;
      }
      chunk.ready += head.received;
      if (chunk.ready === chunk.buffer.length) this.wanted = this.deliver(chunk.buffer);
    }
    while (this.wanted && !this.ended && !this.eofSeen && !this.endCheck && this.slots.length < this.maxInFlight) {
      this.slots.push(this.nextSlot());
    }
  }

  private deliver(data: Buffer): boolean {
    this.bytesRead += data.length;
    return this.push(data);
  }

  /** The next READ in file order (the 1-byte EOF check once `size` is reached), issued. */
  private nextSlot(): Slot {
    const left = this.size === undefined ? Number.POSITIVE_INFINITY : this.size - this.nextOffset;
    let chunk = this.filling;
    if (left <= 0) {
      chunk = { offset: this.nextOffset, buffer: Buffer.allocUnsafe(1), assigned: 0, ready: 0 };
    } else if (!chunk) {
      chunk = { offset: this.nextOffset, buffer: Buffer.allocUnsafe(Math.min(this.chunkBytes, left)), assigned: 0, ready: 0 };
      this.filling = chunk;
    }
    const length = Math.min(this.requestBytes, chunk.buffer.length - chunk.assigned);
    const slot: Slot = { offset: this.nextOffset, length, chunk, done: false, received: 0 };
    if (left <= 0) this.endCheck = slot;
    chunk.assigned += length;
    if (chunk === this.filling && chunk.assigned === chunk.buffer.length) this.filling = undefined;
    this.nextOffset += length;
    this.issue(slot);
    return slot;
  }

  private issue(slot: Slot): void {
    const lane = this.lanes[this.issued++ % this.lanes.length] as SftpLane;
    try {
      lane.channel.sftp.read(
        lane.handle as Buffer,
        slot.chunk.buffer,
        slot.offset - slot.chunk.offset,
        slot.length,
        slot.offset,
        (err, bytesRead) => {
          this.onReply(slot, err, bytesRead);
        },
      );
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  private onReply(slot: Slot, err: Error | null | undefined, bytesRead: number): void {
    if (this.ended || this.destroyed) return;
    if (err) {
      this.destroy(requestError(err, this.where));
      return;
    }
    // ssh2 turns an EOF status into a zero-length read.
    if (!bytesRead) {
      slot.eof = true;
      this.eofSeen = true;
    } else if (slot === this.endCheck) {
      this.destroy(
        new TransferError('SOURCE_CHANGED', `${this.path} on ${this.where} grew past its ${this.size} bytes during the transfer`),
      );
      return;
    } else {
      slot.received = bytesRead;
      if (bytesRead < slot.length) {
        // A short reply: the rest of its part of the chunk is asked for right after it.
        const rest: Slot = {
          offset: slot.offset + bytesRead,
          length: slot.length - bytesRead,
          chunk: slot.chunk,
          done: false,
          received: 0,
        };
        this.slots.splice(this.slots.indexOf(slot) + 1, 0, rest);
        this.issue(rest);
      }
    }
    slot.done = true;
    this.pump();
  }
}
