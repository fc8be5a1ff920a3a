/**
 * The single-copy DATA parser (core/adapters/sftp/data-replies.ts) in front of
 * a stand-in for ssh2's SFTP parser: replies to READs issued with a buffer
 * land in that buffer and complete as ssh2 completes them; every other packet
 * reaches ssh2's parser byte for byte and whole, however the channel's data
 * is cut into pieces. (Over a real sshd it runs in every SFTP integration test:
 * openSftp installs it.)
 */
import type { SFTPWrapper } from 'ssh2';
import { copyDataRepliesOnce } from '../../core/adapters/sftp/data-replies';

type Cb = (err: Error | undefined, buffer: Buffer, bytes: number) => void;

/** ssh2's SFTP object as far as the parser uses it: its requests, its parser state and its push (recorded). */
class FakeSftpParser {
  _requests: Record<number, { buffer?: Buffer; cb?: Cb } | undefined> = {};
  _pktLenBytes = 0;
  _pktPos = 0;
  _pkt: unknown = undefined;
  _version = 3;
  parsed: Buffer[] = [];
  push(data: Buffer | null): unknown {
    if (data) this.parsed.push(Buffer.from(data));
    return undefined;
  }
  asWrapper(): SFTPWrapper {
    return this as unknown as SFTPWrapper;
  }
}

function packet(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length + 1, 0);
  head[4] = type;
  return Buffer.concat([head, body]);
}

function u32(...values: number[]): Buffer {
  const out = Buffer.alloc(4 * values.length);
  for (const [i, v] of values.entries()) out.writeUInt32BE(v, 4 * i);
  return out;
}

const STATUS = 101;
const DATA = 103;
const EXTENDED_REPLY = 201;

function content(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + seed) & 0xff;
  return out;
}

function dataPacket(id: number, data: Buffer): Buffer {
  return packet(DATA, Buffer.concat([u32(id, data.length), data]));
}

/** A channel's worth of replies: READs this parser takes, and packets it must leave to ssh2. */
function scenario() {
  const taken = { 2: content(1000, 2), 7: Buffer.alloc(0), 8: content(70_000, 8) } as Record<number, Buffer>;
  const status = packet(STATUS, Buffer.concat([u32(1, 0, 2), Buffer.from('ok'), u32(0)]));
  const emptyExtended = packet(EXTENDED_REPLY, u32(3));
  const noBuffer = dataPacket(4, content(300, 4));
  const tooLong = dataPacket(5, content(20, 5));
  const unknown = dataPacket(6, content(50, 6));
  const trailing = Buffer.concat([dataPacket(9, content(10, 9)), Buffer.from([0xaa])]);
  trailing.writeUInt32BE(trailing.length - 4, 0);
  const stream = Buffer.concat([
    status,
    dataPacket(2, taken[2] as Buffer),
    emptyExtended,
    noBuffer,
    dataPacket(7, taken[7] as Buffer),
    tooLong,
    unknown,
    dataPacket(8, taken[8] as Buffer),
    trailing,
    status,
  ]);
  const leftToSsh2 = [status, emptyExtended, noBuffer, tooLong, unknown, trailing, status];
  return { stream, taken, leftToSsh2 };
}

function setUp() {
  const sftp = new FakeSftpParser();
  const completed: Array<{ id: number; bytes: number; data: Buffer }> = [];
  const { stream, taken, leftToSsh2 } = scenario();
  for (const [id, data] of Object.entries(taken)) {
    // As ssh2's read_ keeps it: a view of the caller's buffer, at the caller's offset.
    const backing = Buffer.alloc(data.length + 20, 0xee);
    const buffer = backing.subarray(10, 10 + data.length);
    sftp._requests[Number(id)] = {
      buffer,
      cb: (err, b, bytes) => {
        expect(err).toBeUndefined();
        completed.push({ id: Number(id), bytes, data: Buffer.from(b.subarray(0, bytes)) });
      },
    };
  }
  sftp._requests[4] = { cb: () => {} };
  sftp._requests[5] = { buffer: Buffer.alloc(10), cb: () => {} };
  sftp._requests[9] = { buffer: Buffer.alloc(10), cb: () => {} };
  expect(copyDataRepliesOnce(sftp.asWrapper())).toBe(true);
  return { sftp, completed, stream, taken, leftToSsh2 };
}

/** Cuts `stream` into pieces of the given sizes, cycling through them. */
function cut(stream: Buffer, sizes: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < stream.length; i++) {
    const n = sizes[i % sizes.length] as number;
    pieces.push(stream.subarray(at, at + n));
    at += n;
  }
  return pieces;
}

const cuts: number[][] = [
  [1],
  [2],
  [3],
  [4],
  [5],
  [6],
  [12],
  [13],
  [14],
  [17],
  [1000],
  [32_768],
  [1, 13, 5, 4096, 2],
  [1_000_000],
];

describe('copyDataRepliesOnce', () => {
  test.each(cuts.map((sizes) => ({ sizes, name: sizes.join(', ') })))(
    'pieces of $name bytes: READ replies land in their buffers, everything else reaches ssh2 whole',
    ({ sizes }) => {
      const { sftp, completed, stream, taken, leftToSsh2 } = setUp();
      for (const piece of cut(stream, sizes)) sftp.push(piece);

      expect(completed.map((c) => c.id)).toEqual([2, 7, 8]);
      for (const c of completed) {
        expect(c.bytes).toBe((taken[c.id] as Buffer).length);
        expect(c.data.equals(taken[c.id] as Buffer)).toBe(true);
        expect(sftp._requests[c.id]).toBeUndefined();
      }
      // ssh2 saw exactly the other packets' bytes, in order, and no piece crossed from one packet into the next.
      expect(Buffer.concat(sftp.parsed).equals(Buffer.concat(leftToSsh2))).toBe(true);
      const bounds = new Set<number>();
      let at = 0;
      for (const p of leftToSsh2) {
        at += p.length;
        bounds.add(at);
      }
      at = 0;
      for (const piece of sftp.parsed) {
        const starts = at;
        at += piece.length;
        const crossed = [...bounds].some((b) => b > starts && b < at);
        expect(crossed).toBe(false);
      }
      // The requests it did not take are still ssh2's to answer.
      expect(Object.keys(sftp._requests).sort()).toEqual(['4', '5', '9']);
    },
  );

  test('the bytes around a READ buffer (a view of a larger one) stay untouched', () => {
    const sftp = new FakeSftpParser();
    const backing = Buffer.alloc(40, 0xee);
    const buffer = backing.subarray(10, 30);
    sftp._requests[1] = { buffer, cb: () => {} };
    copyDataRepliesOnce(sftp.asWrapper());
    sftp.push(dataPacket(1, content(15, 1)));
    expect(backing.subarray(0, 10).every((b) => b === 0xee)).toBe(true);
    expect(backing.subarray(10, 25).equals(content(15, 1))).toBe(true);
    expect(backing.subarray(25).every((b) => b === 0xee)).toBe(true);
  });

  test('a channel that closes mid-reply fails the request through ssh2 (no completion from here)', () => {
    const sftp = new FakeSftpParser();
    const calls: number[] = [];
    const req = { buffer: Buffer.alloc(100), cb: (_e: Error | undefined, _b: Buffer, n: number) => calls.push(n) };
    sftp._requests[1] = req;
    copyDataRepliesOnce(sftp.asWrapper());
    const reply = dataPacket(1, content(100, 1));
    sftp.push(reply.subarray(0, 50));
    // ssh2 fails every pending request when the channel ends, and forgets them.
    sftp._requests = {};
    sftp.push(reply.subarray(50));
    expect(calls).toEqual([]);
  });

  test('is not installed in the middle of a packet, nor before the VERSION exchange', () => {
    const midPacket = new FakeSftpParser();
    midPacket._pktLenBytes = 2;
    expect(copyDataRepliesOnce(midPacket.asWrapper())).toBe(false);
    const beforeVersion = new FakeSftpParser();
    beforeVersion._version = -1;
    expect(copyDataRepliesOnce(beforeVersion.asWrapper())).toBe(false);
    expect(copyDataRepliesOnce({} as SFTPWrapper)).toBe(false);
  });
});
