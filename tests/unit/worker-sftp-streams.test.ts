/**
 * The pipelined SFTP reader and writer against an in-memory stand-in for
 * ssh2's SFTPWrapper that answers requests OUT OF ORDER (seeded shuffle),
 * can cap its replies (short reads), fail a request, or lose the channel.
 * Real servers are covered by tests/integration/worker-sftp-streams.test.ts.
 */
import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SFTPWrapper } from 'ssh2';
import { SftpReadStream } from '../../core/adapters/sftp/transfer/read-stream';
import { SftpWriteStream } from '../../core/adapters/sftp/transfer/write-stream';
import { toTransferError } from '../../core/domain/transfer/errors';

const STATUS_ERROR = (code: number, message: string) => Object.assign(new Error(message), { code });

interface FakeOptions {
  /** Largest request ssh2 would send in one packet. */
  maxLength?: number;
  /** The server answers READs with at most this many bytes. */
  replyCap?: number;
  /** Fail the READ or WRITE that touches this offset with FAILURE. */
  failAtOffset?: number;
  /** Close the channel once this many READ/WRITE requests have been sent (they are never answered). */
  loseAfterRequests?: number;
  seed?: number;
}

/** Just enough of SFTPWrapper for the streams: open/read/write/close, replies shuffled. */
class FakeSftp extends EventEmitter {
  readonly files = new Map<string, Buffer>();
  readable = true;
  _maxReadLen: number;
  _maxWriteLen: number;
  outstanding = 0;
  maxOutstanding = 0;
  requests = 0;
  closedHandles = 0;
  private readonly handles = new Map<string, string>();
  private nextHandle = 0;
  private queue: Array<() => void> = [];
  private flushing = false;
  private rand: number;

  constructor(private readonly options: FakeOptions = {}) {
    super();
    this._maxReadLen = options.maxLength ?? 4096;
    this._maxWriteLen = options.maxLength ?? 4096;
    this.rand = options.seed ?? 7;
  }

  /** Deterministic PRNG (xorshift) for the reply order. */
  private random(): number {
    this.rand ^= this.rand << 13;
    this.rand ^= this.rand >>> 17;
    this.rand ^= this.rand << 5;
    return (this.rand >>> 0) / 2 ** 32;
  }

  /** Replies go out in a random order, a few event-loop turns later. */
  private reply(fn: () => void): void {
    this.queue.push(fn);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      const batch = this.queue;
      this.queue = [];
      while (batch.length > 0) {
        const [next] = batch.splice(Math.floor(this.random() * batch.length), 1);
        next?.();
      }
    });
  }

  private request(offset: number, length: number): boolean {
    this.requests++;
    if (this.options.loseAfterRequests !== undefined && this.requests > this.options.loseAfterRequests) {
      if (this.readable) {
        this.readable = false;
        setImmediate(() => this.emit('end'));
      }
      return false;
    }
    this.outstanding++;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    const fail = this.options.failAtOffset;
    return !(fail !== undefined && fail >= offset && fail < offset + Math.max(1, length));
  }

  open(path: string, flags: number, _attrs: unknown, cb: (err: Error | undefined, handle: Buffer) => void): void {
    const exists = this.files.has(path);
    if (!(flags & 0x08) && !exists) {
      this.reply(() => cb(STATUS_ERROR(2, 'No such file'), Buffer.alloc(0)));
      return;
    }
    if (flags & 0x20 && exists) {
      this.reply(() => cb(STATUS_ERROR(4, 'File exists'), Buffer.alloc(0)));
      return;
    }
    if (flags & 0x10 || !exists) this.files.set(path, Buffer.alloc(0));
    const handle = String(this.nextHandle++);
    this.handles.set(handle, path);
    this.reply(() => cb(undefined, Buffer.from(handle)));
  }

  close(handle: Buffer, cb: (err?: Error) => void): void {
    this.handles.delete(handle.toString());
    this.closedHandles++;
    this.reply(() => cb());
  }

  read(
    handle: Buffer,
    buf: Buffer,
    off: number,
    len: number,
    position: number,
    cb: (err: Error | undefined, n: number) => void,
  ): void {
    if (len > this._maxReadLen) throw new Error(`READ of ${len} bytes would be split by ssh2`);
    const data = this.files.get(this.handles.get(handle.toString()) ?? '') ?? Buffer.alloc(0);
    const ok = this.request(position, len);
    if (this.requests > (this.options.loseAfterRequests ?? Number.POSITIVE_INFINITY)) return;
    this.reply(() => {
      this.outstanding--;
      if (!ok) return cb(STATUS_ERROR(4, 'Failure'), 0);
      const n = Math.max(0, Math.min(len, this.options.replyCap ?? len, data.length - position));
      if (n > 0) data.copy(buf, off, position, position + n);
      cb(undefined, n);
    });
  }

  write(handle: Buffer, buf: Buffer, off: number, len: number, position: number, cb: (err?: Error) => void): void {
    if (len > this._maxWriteLen) throw new Error(`WRITE of ${len} bytes would be split by ssh2`);
    const path = this.handles.get(handle.toString()) ?? '';
    // Like ssh2: the data is copied into the outgoing packet at once.
    const copy = Buffer.from(buf.subarray(off, off + len));
    const ok = this.request(position, len);
    if (this.requests > (this.options.loseAfterRequests ?? Number.POSITIVE_INFINITY)) return;
    this.reply(() => {
      this.outstanding--;
      if (!ok) return cb(STATUS_ERROR(4, 'Failure'));
      const old = this.files.get(path) ?? Buffer.alloc(0);
      const next = Buffer.alloc(Math.max(old.length, position + len));
      old.copy(next);
      copy.copy(next, position);
      this.files.set(path, next);
      cb();
    });
  }

  asWrapper(): SFTPWrapper {
    return this as unknown as SFTPWrapper;
  }
}

function pattern(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return out;
}

/** A consumer that takes `delayTurns` event-loop turns per chunk, recording what it got. */
function collector(delayTurns = 0): { sink: Writable; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      let n = delayTurns;
      const next = () => (n-- > 0 ? setImmediate(next) : cb());
      next();
    },
  });
  return { sink, chunks };
}

describe('SftpReadStream (pipelined reader)', () => {
  test.each([0, 1, 1000, 4096, 4096 * 3 + 17, 200_000])('delivers a %i-byte file byte for byte, in order', async (size) => {
    const sftp = new FakeSftp();
    const content = pattern(size);
    sftp.files.set('/f', content);
    const { sink, chunks } = collector();
    const reader = new SftpReadStream(sftp.asWrapper(), '/f', { requestBytes: 4096, maxInFlight: 8 });
    await pipeline(reader, sink);
    expect(Buffer.concat(chunks).equals(content)).toBe(true);
    expect(reader.bytesRead).toBe(size);
    expect(sftp.closedHandles).toBe(1);
  });

  test.each([0, 1, 1000, 4096, 4096 * 3 + 17, 200_000])(
    'given the size (%i bytes), asks for nothing past it but a 1-byte EOF check',
    async (size) => {
      const sftp = new FakeSftp();
      const content = pattern(size);
      sftp.files.set('/f', content);
      const reads: Array<{ offset: number; length: number }> = [];
      const original = sftp.read.bind(sftp);
      sftp.read = (...args: Parameters<FakeSftp['read']>) => {
        reads.push({ length: args[3], offset: args[4] });
        original(...args);
      };
      const { sink, chunks } = collector();
      await pipeline(new SftpReadStream(sftp.asWrapper(), '/f', { size, requestBytes: 4096, maxInFlight: 8 }), sink);
      expect(Buffer.concat(chunks).equals(content)).toBe(true);
      expect(reads).toHaveLength(Math.ceil(size / 4096) + 1);
      expect(reads.at(-1)).toEqual({ offset: size, length: 1 });
      expect(Math.max(...reads.map((r) => r.offset + r.length))).toBe(size + 1);
    },
  );

  test('refuses a file that grew past the size it had (SOURCE_CHANGED)', async () => {
    const sftp = new FakeSftp();
    sftp.files.set('/f', pattern(10_000));
    await expect(
      pipeline(new SftpReadStream(sftp.asWrapper(), '/f', { size: 6000, requestBytes: 4096 }), collector().sink),
    ).rejects.toMatchObject({ code: 'SOURCE_CHANGED' });
  });

  test('keeps many requests in flight, never more than maxInFlight', async () => {
    const sftp = new FakeSftp();
    sftp.files.set('/f', pattern(300_000));
    await pipeline(new SftpReadStream(sftp.asWrapper(), '/f', { requestBytes: 4096, maxInFlight: 16 }), collector().sink);
    expect(sftp.maxOutstanding).toBeGreaterThan(8);
    expect(sftp.maxOutstanding).toBeLessThanOrEqual(16);
  });

  test('stops asking for data while the consumer is behind (bounded window)', async () => {
    const sftp = new FakeSftp();
    const content = pattern(400_000);
    sftp.files.set('/f', content);
    const reader = new SftpReadStream(sftp.asWrapper(), '/f', { requestBytes: 4096, maxInFlight: 4 });
    let worstAhead = 0;
    const { sink, chunks } = collector(5);
    const original = sftp.read.bind(sftp);
    sftp.read = (...args: Parameters<FakeSftp['read']>) => {
      // Bytes requested but not yet consumed: the reader's window plus Node's small buffer.
      const consumed = chunks.reduce((n, c) => n + c.length, 0);
      worstAhead = Math.max(worstAhead, args[4] + args[3] - consumed);
      original(...args);
    };
    await pipeline(reader, sink);
    expect(Buffer.concat(chunks).equals(content)).toBe(true);
    // 4 requests in the window + about one in Node's buffer + one being consumed.
    expect(worstAhead).toBeLessThanOrEqual(7 * 4096);
  });

  test('starts at an offset (resume)', async () => {
    const sftp = new FakeSftp();
    const content = pattern(50_000);
    sftp.files.set('/f', content);
    const { sink, chunks } = collector();
    await pipeline(new SftpReadStream(sftp.asWrapper(), '/f', { start: 12_345, requestBytes: 4096 }), sink);
    expect(Buffer.concat(chunks).equals(content.subarray(12_345))).toBe(true);
  });

  test('short replies (a server capping them) still give the whole file in order', async () => {
    const sftp = new FakeSftp({ replyCap: 1000 });
    const content = pattern(60_000);
    sftp.files.set('/f', content);
    const { sink, chunks } = collector();
    await pipeline(new SftpReadStream(sftp.asWrapper(), '/f', { requestBytes: 4096, maxInFlight: 8 }), sink);
    expect(Buffer.concat(chunks).equals(content)).toBe(true);
  });

  test('clamps its requests to what ssh2 sends as one packet', async () => {
    const sftp = new FakeSftp({ maxLength: 1024 });
    const content = pattern(10_000);
    sftp.files.set('/f', content);
    const { sink, chunks } = collector();
    // The fake throws if a READ is larger than _maxReadLen.
    await pipeline(new SftpReadStream(sftp.asWrapper(), '/f', { requestBytes: 65_536 }), sink);
    expect(Buffer.concat(chunks).equals(content)).toBe(true);
  });

  test('a missing file fails with the server status', async () => {
    const sftp = new FakeSftp();
    await expect(pipeline(new SftpReadStream(sftp.asWrapper(), '/nope'), collector().sink)).rejects.toMatchObject({ code: 2 });
  });

  test('a channel lost while the file is being opened fails as a retryable CONNECTION_LOST, not INTERNAL', async () => {
    const sftp = new FakeSftp();
    sftp.files.set('/in', pattern(10_000));
    const reader = new SftpReadStream(sftp.asWrapper(), '/in', { size: 10_000 });
    const failed = pipeline(reader, collector().sink).catch((err: unknown) => err);
    // The OPEN is on its way (the stream constructs on the next tick); then the channel closes under it.
    await new Promise((resolve) => process.nextTick(resolve));
    sftp.readable = false;
    sftp.emit('end');
    // Node reports the stream's own error and the OPEN's together (an AggregateError).
    const error = toTransferError(await failed);
    expect(error).toMatchObject({ code: 'CONNECTION_LOST', retryable: true });
  });

  test('an error reply mid-stream fails the stream and closes the handle', async () => {
    const sftp = new FakeSftp({ failAtOffset: 40_000 });
    sftp.files.set('/f', pattern(100_000));
    const { sink, chunks } = collector();
    await expect(pipeline(new SftpReadStream(sftp.asWrapper(), '/f', { requestBytes: 4096 }), sink)).rejects.toMatchObject({
      code: 4,
    });
    expect(Buffer.concat(chunks).length).toBeLessThanOrEqual(40_000);
    expect(sftp.closedHandles).toBe(1);
  });

  test('a channel lost mid-stream fails with CONNECTION_LOST instead of hanging', async () => {
    const sftp = new FakeSftp({ loseAfterRequests: 5 });
    sftp.files.set('/f', pattern(100_000));
    await expect(
      pipeline(new SftpReadStream(sftp.asWrapper(), '/f', { requestBytes: 4096 }), collector().sink),
    ).rejects.toMatchObject({ code: 'CONNECTION_LOST', retryable: true });
  });
});

describe('SftpWriteStream (pipelined writer)', () => {
  /** Feeds `content` in pieces of irregular sizes, like an HTTP body. */
  function source(content: Buffer): Readable {
    const pieces: Buffer[] = [];
    for (let at = 0, n = 1; at < content.length; n = (n * 7 + 3) % 9000) {
      pieces.push(content.subarray(at, at + n + 1));
      at += n + 1;
    }
    return Readable.from(pieces);
  }

  test.each([0, 1, 1000, 4096, 4096 * 5 + 3, 150_000])('writes a %i-byte file byte for byte', async (size) => {
    const sftp = new FakeSftp();
    const content = pattern(size, 3);
    const writer = new SftpWriteStream(sftp.asWrapper(), '/out', { requestBytes: 4096, maxInFlight: 8 });
    await pipeline(source(content), writer);
    expect(sftp.files.get('/out')?.equals(content)).toBe(true);
    expect(writer.acknowledgedOffset).toBe(size);
    expect(sftp.closedHandles).toBe(1);
    // Small pieces are coalesced into whole requests.
    expect(sftp.requests).toBe(Math.ceil(size / 4096));
  });

  // `bytes` only sizes the buffers allocated at the start: a wrong count (a resumed offset past the size, an
  // unknown size) must neither throw nor change what is written.
  test.each([0, 10, 50_000, 10_000_000, -20_000, Number.NaN])(
    'told it will write %d bytes, writes a 50,000-byte file byte for byte',
    async (bytes) => {
      const sftp = new FakeSftp();
      const content = pattern(50_000, 9);
      const writer = new SftpWriteStream(sftp.asWrapper(), '/out', { requestBytes: 4096, maxInFlight: 8, bytes });
      await pipeline(source(content), writer);
      expect(sftp.files.get('/out')?.equals(content)).toBe(true);
      expect(writer.acknowledgedOffset).toBe(50_000);
      expect(sftp.maxOutstanding).toBeLessThanOrEqual(8);
    },
  );

  test('keeps many writes in flight, never more than maxInFlight', async () => {
    const sftp = new FakeSftp();
    await pipeline(
      source(pattern(300_000)),
      new SftpWriteStream(sftp.asWrapper(), '/out', { requestBytes: 4096, maxInFlight: 16 }),
    );
    expect(sftp.maxOutstanding).toBeGreaterThan(8);
    expect(sftp.maxOutstanding).toBeLessThanOrEqual(16);
  });

  test('resumes at an offset without truncating what is there', async () => {
    const sftp = new FakeSftp();
    const content = pattern(50_000, 5);
    sftp.files.set('/out', Buffer.from(content.subarray(0, 20_000)));
    const writer = new SftpWriteStream(sftp.asWrapper(), '/out', { flags: 0x02, start: 20_000, requestBytes: 4096 });
    await pipeline(source(content.subarray(20_000)), writer);
    expect(sftp.files.get('/out')?.equals(content)).toBe(true);
  });

  test('EXCL refuses an existing file', async () => {
    const sftp = new FakeSftp();
    sftp.files.set('/out', Buffer.from('theirs'));
    await expect(
      pipeline(source(pattern(10)), new SftpWriteStream(sftp.asWrapper(), '/out', { flags: 0x2a })),
    ).rejects.toMatchObject({
      code: 4,
    });
    expect(sftp.files.get('/out')?.toString()).toBe('theirs');
  });

  test('an error reply fails the stream; the acknowledged offset stays below the failed write', async () => {
    const sftp = new FakeSftp({ failAtOffset: 30_000 });
    const writer = new SftpWriteStream(sftp.asWrapper(), '/out', { requestBytes: 4096, maxInFlight: 4 });
    await expect(pipeline(source(pattern(100_000)), writer)).rejects.toMatchObject({ code: 4 });
    expect(writer.acknowledgedOffset).toBeLessThanOrEqual(28_672);
    const written = sftp.files.get('/out') as Buffer;
    expect(written.subarray(0, writer.acknowledgedOffset).equals(pattern(100_000).subarray(0, writer.acknowledgedOffset))).toBe(
      true,
    );
  });

  test('a channel lost mid-stream fails with CONNECTION_LOST instead of hanging', async () => {
    const sftp = new FakeSftp({ loseAfterRequests: 5 });
    const writer = new SftpWriteStream(sftp.asWrapper(), '/out', { requestBytes: 4096, maxInFlight: 4 });
    await expect(pipeline(source(pattern(100_000)), writer)).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
  });
});
