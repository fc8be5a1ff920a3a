/**
 * SFTP WRITE requests sent from a buffer the caller owns, without ssh2's copy.
 *
 * ssh2's `sftp.write` allocates a new buffer for every request and copies the
 * data into it; for a 255 KiB request that is one more copy of every byte and
 * one more short-lived 255 KiB ArrayBuffer, whose external memory is what
 * drives V8's full (mark-compact) collections during a transfer. Here the
 * caller keeps the data at `DATA_OFFSET` of a buffer it reuses, the request's
 * header is written in the room before it, and the payload goes through the
 * channel exactly as ssh2 sends its own (same request ids, same reply
 * dispatch, same SSH window handling and queue), so replies, errors and a
 * lost channel reach the callback as they would from `sftp.write`.
 *
 * The buffer must not be changed until the callback has run: until then ssh2
 * may still hold parts of it (queued behind the SSH window). A reply means
 * the server has received the whole request, so none of it is queued then.
 *
 * It relies on ssh2's SFTP internals (ssh2 1.x; package-lock.json pins the release, and
 * tests/integration/worker-sftp-streams.test.ts checks them on a real channel);
 * `directWrites` returns undefined when they are not as expected, and the
 * caller falls back to `sftp.write`.
 */
import type { SFTPWrapper } from 'ssh2';

/** SFTP v3 handles are at most 256 bytes. */
const MAX_HANDLE_BYTES = 256;
/** uint32 length, byte type, uint32 id, string handle (uint32 length + bytes), uint64 offset, uint32 data length. */
const HEADER_BYTES_WITHOUT_HANDLE = 4 + 1 + 4 + 4 + 8 + 4;
/** Where the data starts in a request buffer: room for the header of any handle before it. */
export const DATA_OFFSET = HEADER_BYTES_WITHOUT_HANDLE + MAX_HANDLE_BYTES;

const SSH_FXP_WRITE = 6;
/** ssh2's request-id arithmetic (SFTP.js), kept identical since the counter is shared with ssh2's own requests. */
const MAX_REQID = 2 ** 32 - 1;

type ReplyCallback = (err?: Error) => void;

/** The parts of ssh2's SFTP object (lib/protocol/SFTP.js) that its own write path uses. */
interface Ssh2Sftp {
  server: boolean;
  _writeReqid: number;
  _requests: Record<number, { cb: ReplyCallback }>;
  _buffer: Buffer[];
  _waitWindow: boolean;
  _chunkcb: (() => void) | undefined;
  outgoing: { id: number; window: number; packetSize: number; state: string };
  _protocol: { channelData(id: number, data: Buffer): void };
}

export interface DirectWrites {
  /**
   * Sends WRITE(handle, position, buffer[DATA_OFFSET, DATA_OFFSET + length)); `done` runs with the
   * server's reply (an error with `code` for a status other than OK), or with an error when the
   * channel closes first.
   */
  write(handle: Buffer, buffer: Buffer, length: number, position: number, done: ReplyCallback): void;
}

function isSsh2Sftp(sftp: unknown): sftp is Ssh2Sftp {
  const s = sftp as Partial<Ssh2Sftp> | undefined;
  return (
    typeof s === 'object' &&
    s !== null &&
    s.server === false &&
    typeof s._writeReqid === 'number' &&
    typeof s._requests === 'object' &&
    s._requests !== null &&
    Array.isArray(s._buffer) &&
    typeof s.outgoing?.window === 'number' &&
    typeof s.outgoing.packetSize === 'number' &&
    typeof s._protocol?.channelData === 'function'
  );
}

/** Direct WRITEs on this channel, or undefined when it is not the ssh2 SFTP object this was written against. */
export function directWrites(sftp: SFTPWrapper): DirectWrites | undefined {
  if (!isSsh2Sftp(sftp)) return undefined;
  const channel = sftp;

  /** ssh2's tryWritePayload: as much as the SSH window allows, in packets of at most packetSize. */
  const tryWritePayload = (payload: Buffer): Buffer | undefined => {
    const { outgoing } = channel;
    if (outgoing.state !== 'open') return undefined;
    if (outgoing.window === 0) {
      channel._waitWindow = true;
      channel._chunkcb = drainQueue;
      return payload;
    }
    const length = payload.length;
    let at = 0;
    while (length - at > 0 && outgoing.window > 0) {
      const n = Math.min(length - at, outgoing.window, outgoing.packetSize);
      outgoing.window -= n;
      if (outgoing.window === 0) {
        channel._waitWindow = true;
        channel._chunkcb = drainQueue;
      }
      channel._protocol.channelData(outgoing.id, n === length ? payload : payload.subarray(at, at + n));
      at += n;
    }
    return at < length ? payload.subarray(at) : undefined;
  };

  /** ssh2's drainBuffer: the queued payloads in order, once the server has opened the window again. */
  function drainQueue(): void {
    channel._chunkcb = undefined;
    const queue = channel._buffer;
    let i = 0;
    while (i < queue.length) {
      const payload = queue[i] as Buffer;
      const rest = tryWritePayload(payload);
      if (rest !== undefined) {
        if (rest !== payload) queue[i] = rest;
        if (i > 0) channel._buffer = queue.slice(i);
        return;
      }
      ++i;
    }
    if (i > 0) channel._buffer = [];
  }

  return {
    write(handle, buffer, length, position, done) {
      if (handle.length > MAX_HANDLE_BYTES) throw new RangeError(`an SFTP handle of ${handle.length} bytes`);
      const start = DATA_OFFSET - HEADER_BYTES_WITHOUT_HANDLE - handle.length;
      const reqid = (channel._writeReqid + 1) & MAX_REQID;
      channel._writeReqid = reqid;
      buffer.writeUInt32BE(DATA_OFFSET + length - start - 4, start);
      buffer[start + 4] = SSH_FXP_WRITE;
      buffer.writeUInt32BE(reqid >>> 0, start + 5);
      buffer.writeUInt32BE(handle.length, start + 9);
      handle.copy(buffer, start + 13);
      // uint64 offset, big-endian: beyond 2^32 the high word carries it.
      buffer.writeUInt32BE(Math.floor(position / 2 ** 32), DATA_OFFSET - 12);
      buffer.writeUInt32BE(position >>> 0, DATA_OFFSET - 8);
      buffer.writeUInt32BE(length, DATA_OFFSET - 4);
      channel._requests[reqid] = { cb: done };
      const payload = buffer.subarray(start, DATA_OFFSET + length);
      // ssh2's sendOrBuffer: behind anything already queued for the window, else straight out.
      const rest = tryWritePayload(payload);
      if (rest !== undefined) channel._buffer.push(rest);
    },
  };
}
