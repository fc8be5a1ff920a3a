/**
 * SFTP DATA replies copied once, from the SSH channel's data straight into
 * the buffer the READ was issued with, instead of twice.
 *
 * Why: ssh2's SFTP parser first assembles every SFTP packet in a buffer of its
 * own (a 255 KiB DATA reply spans ~8 SSH packets of 32 KiB, so it allocates
 * the reply's size and copies each piece in), then its DATA handler copies the
 * data again into the READ's buffer. On a loopback download those two copies
 * and the garbage of the assembly buffers were ~20 % of the main thread's time
 * (docs/benchmarks.md, "SFTP legs … on loopback").
 *
 * How: a parser in front of ssh2's (`push`, which the channel feeds with each
 * CHANNEL_DATA payload) reads each SFTP packet's header. A DATA reply to a
 * pending READ that was issued with a buffer (`sftp.read(handle, buf, …)`,
 * as SftpReadStream issues them) whose data fits that buffer is copied there
 * piece by piece as it arrives, and its request completes exactly as ssh2's
 * own handler completes it (`req.cb(undefined, req.buffer, nb)`). Every other
 * packet goes to ssh2's parser byte for byte, so its framing, its checks and
 * its errors are unchanged; it only ever sees whole packets.
 *
 * The parser hooks ssh2's SFTP channel internals (`push`, `_requests`, the
 * parser state), which ssh2 does not expose; with an ssh2 whose SFTP object
 * does not look like that, or one caught in the middle of a packet, nothing is
 * installed and ssh2 parses as before.
 */
import type { SFTPWrapper } from 'ssh2';

/** SSH_FXP_DATA */
const FXP_DATA = 103;
/** uint32 length, byte type, uint32 request id, uint32 data length */
const DATA_HEADER_BYTES = 13;

interface ReadRequest {
  /** The READ's destination (a view of the caller's buffer); other requests have none. */
  buffer?: unknown;
  cb?: (err: Error | undefined, buffer: Buffer, bytes: number) => void;
}

interface SftpInternals {
  _requests: Record<number, ReadRequest | undefined>;
  _pktLenBytes: number;
  _pktPos: number;
  _pkt: unknown;
  _version: number;
  _debug?: (line: string) => void;
  push(data: Buffer | null): unknown;
}

function internalsOf(sftp: SFTPWrapper): SftpInternals | undefined {
  const s = sftp as unknown as Partial<SftpInternals>;
  const usable =
    typeof s.push === 'function' &&
    typeof s._requests === 'object' &&
    s._requests !== null &&
    s._pktLenBytes === 0 &&
    s._pktPos === 0 &&
    s._pkt === undefined &&
    typeof s._version === 'number' &&
    s._version !== -1;
  return usable ? (s as SftpInternals) : undefined;
}

/** The SFTP channels the parser was installed on (a test asserts it still installs on the ssh2 in use). */
const installed = new WeakSet<SFTPWrapper>();

export function copiesDataRepliesOnce(sftp: SFTPWrapper): boolean {
  return installed.has(sftp);
}

/**
 * Puts the single-copy DATA parser in front of `sftp`'s own (once its
 * VERSION exchange is done); returns false, installing nothing, if ssh2's
 * internals are not as expected.
 */
export function copyDataRepliesOnce(sftp: SFTPWrapper): boolean {
  const s = internalsOf(sftp);
  if (!s) return false;
  const parse = s.push.bind(s);
  const header = Buffer.alloc(DATA_HEADER_BYTES);
  /** Bytes of the current packet's header collected so far (0: at a packet boundary). */
  let headerBytes = 0;
  /** Bytes of the current packet still to pass to ssh2's parser. */
  let forward = 0;
  /** The DATA reply being copied: its request, id, destination, bytes copied and still to come. */
  let request: ReadRequest | undefined;
  let requestId = 0;
  let target: Buffer | undefined;
  let copied = 0;
  let left = 0;

  const complete = () => {
    const req = request as ReadRequest;
    const dest = target as Buffer;
    request = undefined;
    target = undefined;
    // Gone if the channel closed meanwhile (ssh2 then failed every pending request).
    if (s._requests[requestId] !== req) return;
    delete s._requests[requestId];
    s._debug?.(`SFTP: Inbound: Received DATA (id:${requestId}, ${copied})`);
    req.cb?.(undefined, dest, copied);
  };

  /** A DATA reply this parser takes: to a pending READ with a buffer its data fits, and nothing after the data. */
  const takeReply = (): boolean => {
    const id = header.readUInt32BE(5);
    const dataLength = header.readUInt32BE(9);
    const req = s._requests[id];
    if (header.readUInt32BE(0) !== DATA_HEADER_BYTES - 4 + dataLength) return false;
    if (!req || !Buffer.isBuffer(req.buffer) || dataLength > req.buffer.length) return false;
    request = req;
    requestId = id;
    target = req.buffer;
    copied = 0;
    left = dataLength;
    return true;
  };

  s.push = (data: Buffer | null) => {
    if (data === null) return parse(null);
    let p = 0;
    const end = data.length;
    /** Where in `data` the header being read began (-1: in an earlier piece). */
    let headerAt = -1;
    while (p < end) {
      if (left > 0) {
        const n = Math.min(left, end - p);
        (target as Buffer).set(data.subarray(p, p + n), copied);
        copied += n;
        left -= n;
        p += n;
        if (left === 0) complete();
        continue;
      }
      if (forward > 0) {
        const n = Math.min(forward, end - p);
        forward -= n;
        const parsed = parse(p === 0 && n === end ? data : data.subarray(p, p + n));
        p += n;
        if (parsed === false) return false;
        continue;
      }
      // A packet's header: read whole only for DATA, any other packet goes to ssh2 once its type is known.
      // Its length and type first (a packet may be shorter than a DATA header), then the rest of a DATA header.
      if (headerBytes === 0) headerAt = p;
      const n = Math.min((headerBytes < 5 ? 5 : DATA_HEADER_BYTES) - headerBytes, end - p);
      header.set(data.subarray(p, p + n), headerBytes);
      headerBytes += n;
      p += n;
      if (headerBytes < 5) continue;
      const length = header.readUInt32BE(0);
      const isData = header[4] === FXP_DATA && length >= DATA_HEADER_BYTES - 4;
      if (isData && headerBytes < DATA_HEADER_BYTES) continue;
      const taken = isData && takeReply();
      const collected = headerBytes;
      headerBytes = 0;
      if (taken) {
        headerAt = -1;
        if (left === 0) complete();
        continue;
      }
      // Not one of ours: ssh2 parses it from its first byte (in place when that is in this piece of data).
      forward = length + 4;
      if (headerAt >= 0) {
        p = headerAt;
        headerAt = -1;
        continue;
      }
      forward -= collected;
      const parsed = parse(Buffer.from(header.subarray(0, collected)));
      if (parsed === false) return false;
    }
    return undefined;
  };
  installed.add(sftp);
  return true;
}
