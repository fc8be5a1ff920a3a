/**
 * The pipelined SFTP reader and writer against real servers: the embedded
 * SFTP server and OpenSSH's sshd (which advertises limits@openssh.com), plus a
 * connection cut mid-stream by a TCP proxy.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { SFTPWrapper } from 'ssh2';
import { openSftp, type SftpSession, type SftpTarget } from '../../core/adapters/sftp/connect';
import { copiesDataRepliesOnce } from '../../core/adapters/sftp/data-replies';
import { MAX_RECEIVE_WINDOW_BYTES, receiveWindowFor } from '../../core/adapters/sftp/receive-window';
import { maxReadLength, moreChannelsFor, OPEN_FLAGS } from '../../core/adapters/sftp/transfer/channel';
import { SftpReadStream } from '../../core/adapters/sftp/transfer/read-stream';
import { directWrites } from '../../core/adapters/sftp/transfer/write-request';
import { SftpWriteStream } from '../../core/adapters/sftp/transfer/write-stream';
import { type EmbeddedSftpServer, startSftpServer } from '../../local/sftp-server';
import { startDelayRelay } from '../support/delay-relay';
import { type Sshd, startSshd } from '../support/sshd';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

// A busy 2-core machine makes these seconds, not milliseconds (the default bound is 5 s).
jest.setTimeout(30_000);

const LOOPBACK = { allowedCidrs: ['127.0.0.0/8'] };
const PASSWORD = 'worker-streams-password';

let tmp: string;
let embedded: EmbeddedSftpServer;
let embeddedRoot: string;
let sshd: Sshd;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'eft-worker-streams-'));
  embeddedRoot = path.join(tmp, 'root');
  await fs.mkdir(embeddedRoot);
  [embedded, sshd] = await Promise.all([
    startSftpServer({ root: embeddedRoot, users: [{ username: 'partner', password: PASSWORD }] }),
    startSshd(),
  ]);
});

afterAll(async () => {
  await Promise.all([embedded?.close(), sshd?.stop()]);
  await fs.rm(tmp, { recursive: true, force: true });
});

interface Peer {
  name: string;
  target(overrides?: Partial<SftpTarget>): SftpTarget;
  /** The path a client uses for a file, and where it lives on disk. */
  remote(name: string): string;
  local(name: string): string;
}

const peers: Peer[] = [
  {
    name: 'embedded server',
    target: (o) => ({
      host: embedded.host,
      port: embedded.port,
      username: 'partner',
      credentials: { password: PASSWORD },
      hostKeyFingerprint: embedded.hostKeyFingerprint,
      networkPolicy: LOOPBACK,
      ...o,
    }),
    remote: (name) => `/${name}`,
    local: (name) => path.join(embeddedRoot, name),
  },
  {
    name: 'OpenSSH sshd',
    target: (o) => ({
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      credentials: { privateKey: sshd.privateKey },
      hostKeyFingerprint: sshd.hostKeyFingerprint,
      networkPolicy: LOOPBACK,
      ...o,
    }),
    remote: (name) => path.posix.join(sshd.dataDir, name),
    local: (name) => path.join(sshd.dataDir, name),
  },
];

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function readAll(session: SftpSession, remote: string, options = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    new SftpReadStream(session.sftp, remote, options),
    new Writable({
      write(chunk: Buffer, _e, cb) {
        chunks.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(chunks);
}

describe.each(peers)('pipelined streams against the $name', (peer) => {
  let session: SftpSession;
  beforeAll(async () => {
    session = await openSftp(peer.target());
  });
  afterAll(async () => {
    await session?.close();
  });

  test('the server lets ssh2 send 255 KiB requests (limits@openssh.com)', () => {
    expect(maxReadLength(session.sftp)).toBe(261_120);
  });

  test('READ replies are copied once: the single-copy parser (data-replies.ts) is installed on the real channel', () => {
    expect(copiesDataRepliesOnce(session.sftp)).toBe(true);
  });

  test.each([0, 1, 1000, 261_120, 261_120 * 3 + 11, 5 * 1024 * 1024 + 3])('reads a %i-byte file byte for byte', async (size) => {
    const content = randomBytes(size);
    const name = `read-${size}.bin`;
    await fs.writeFile(peer.local(name), content);
    const got = await readAll(session, peer.remote(name));
    expect(got.length).toBe(size);
    expect(sha(got)).toBe(sha(content));
  });

  test.each([0, 1, 1000, 261_120 * 2 + 5, 5 * 1024 * 1024 + 7])('writes a %i-byte file byte for byte', async (size) => {
    const content = randomBytes(size);
    const name = `write-${size}.bin`;
    // Uneven pieces, as from an HTTP body.
    const pieces = Array.from({ length: Math.ceil(size / 10_000) }, (_, i) => content.subarray(i * 10_000, (i + 1) * 10_000));
    const writer = new SftpWriteStream(session.sftp, peer.remote(name), { fsync: true });
    await pipeline(Readable.from(pieces), writer);
    expect(writer.acknowledgedOffset).toBe(size);
    const written = await fs.readFile(peer.local(name));
    expect(written.length).toBe(size);
    expect(sha(written)).toBe(sha(content));
  });

  test('the writer sends its WRITEs without the copy ssh2 makes: the SFTP object is the one write-request.ts was written against', () => {
    expect(directWrites(session.sftp)).toBeDefined();
  });

  test('writes byte for byte while it reuses its request buffers (2 WRITEs in flight, each buffer filled ~10 times)', async () => {
    const content = randomBytes(5 * 1024 * 1024 + 13);
    const name = 'write-reused.bin';
    const pieces = Array.from({ length: Math.ceil(content.length / 65_536) }, (_, i) =>
      content.subarray(i * 65_536, (i + 1) * 65_536),
    );
    const writer = new SftpWriteStream(session.sftp, peer.remote(name), { maxInFlight: 2 });
    await pipeline(Readable.from(pieces), writer);
    const written = await fs.readFile(peer.local(name));
    expect(sha(written)).toBe(sha(content));
  });

  test('writes at offsets beyond 4 GiB (a resumed write of a large file): the high word of the offset reaches the server', async () => {
    const start = 5 * 1024 ** 3 + 3;
    const content = randomBytes(261_120 + 1000);
    const name = 'write-beyond-4gib.bin';
    await fs.writeFile(peer.local(name), '');
    try {
      const writer = new SftpWriteStream(session.sftp, peer.remote(name), { flags: OPEN_FLAGS.WRITE, start });
      await pipeline(Readable.from([content]), writer);
      expect(writer.acknowledgedOffset).toBe(start + content.length);
      expect((await fs.stat(peer.local(name))).size).toBe(start + content.length);
      const handle = await fs.open(peer.local(name), 'r');
      try {
        const back = Buffer.alloc(content.length);
        await handle.read(back, 0, content.length, start);
        expect(sha(back)).toBe(sha(content));
      } finally {
        await handle.close();
      }
    } finally {
      await fs.rm(peer.local(name), { force: true });
    }
  });

  test('reading a missing file fails with NO_SUCH_FILE; writing into a missing folder too', async () => {
    await expect(readAll(session, peer.remote('no-such-file'))).rejects.toMatchObject({ code: 2 });
    const writer = new SftpWriteStream(session.sftp, peer.remote('no/such/dir/f'));
    await expect(pipeline(Readable.from([Buffer.from('x')]), writer)).rejects.toMatchObject({ code: 2 });
  });
});

/**
 * Waits for `event`; if it has not happened after 20 s, fails with what got
 * through. A peer waiting for a window update never sends more, so without a
 * bound such a failure would only show as the test's timeout. The bound only
 * reports a failure: passing never depends on it (a busy machine takes
 * seconds, a correct peer gets there however slow).
 */
function openForReading(sftp: SFTPWrapper, remote: string): Promise<Buffer> {
  return new Promise((resolve, reject) => sftp.open(remote, 'r', (err, handle) => (err ? reject(err) : resolve(handle))));
}

/** The file's `count` READs of `request` bytes, all sent at once: the replies, in order. */
function readAtOnce(sftp: SFTPWrapper, handle: Buffer, request: number, count: number): Promise<Buffer>[] {
  return Array.from(
    { length: count },
    (_, i) =>
      new Promise<Buffer>((resolve, reject) => {
        const buffer = Buffer.alloc(request);
        sftp.read(handle, buffer, 0, request, i * request, (err, n) => (err ? reject(err) : resolve(buffer.subarray(0, n))));
      }),
  );
}

async function orStalled(event: Promise<void>, what: () => string): Promise<void> {
  let bound: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    bound = setTimeout(() => reject(new Error(what())), 20_000);
  });
  await Promise.race([event, stalled]).finally(() => clearTimeout(bound));
}

/**
 * Reads the file (48 requests at once) normally, then again while the proxy withholds every reply:
 * the server must still send `unansweredBytes`, on the window it already has, before hearing back.
 */
async function expectSentUnanswered(
  session: SftpSession,
  proxy: TcpProxy,
  path: string,
  content: Buffer,
  request: number,
  unansweredBytes: number,
): Promise<void> {
  const handle = await openForReading(session.sftp, path);
  const readFile = () => readAtOnce(session.sftp, handle, request, 48);
  expect(sha(Buffer.concat(await Promise.all(readFile())))).toBe(sha(content));
  const sentUnanswered = proxy.keepFromTarget(unansweredBytes);
  const reads = readFile();
  await orStalled(sentUnanswered, () => `the server stopped after ${proxy.keptBytes} bytes, waiting for a window update`);
  proxy.deliverKept();
  expect(sha(Buffer.concat(await Promise.all(reads)))).toBe(sha(content));
}

describe.each(peers)('the SSH receive window with the $name', (peer) => {
  test('the server sends 3 MiB of replies before the client has received any, after 12 MiB already moved (ssh2 alone allows 2 MiB)', async () => {
    const request = 261_120;
    const content = randomBytes(48 * request);
    await fs.writeFile(peer.local('window.bin'), content);
    const target = peer.target();
    const proxy = await startTcpProxy({ host: target.host, port: target.port });
    const session = await openSftp({ ...target, host: proxy.host, port: proxy.port });
    try {
      // Once normally (the window used up and topped up again as replies arrive), then the client
      // hears nothing, so it cannot send a window update: the server may send only what it allows.
      await expectSentUnanswered(session, proxy, peer.remote('window.bin'), content, request, 3 * 1024 * 1024);
    } finally {
      await session.close();
      await proxy.close();
    }
  });
});

describe.each(peers)('the receive window sized to the round trip of the session setup, with the $name', (peer) => {
  const MiB = 1024 * 1024;
  // As below: loopback's round trips stay far under 50 ms even on a busy machine; the relay adds 50 by construction.
  const thresholdMs = 50;

  test('on loopback: a short round trip, so the window the rule gives for it (4 MiB below 10 ms)', async () => {
    const session = await openSftp(peer.target());
    try {
      const window = session.receiveWindow;
      expect(window?.roundTripMs).toBeLessThan(thresholdMs);
      expect(window?.bytes).toBe(receiveWindowFor(window?.roundTripMs));
    } finally {
      await session.close();
    }
  });

  test(`over a link with ${thresholdMs} ms of round trip: 16 MiB, so the server sends 8 MiB of replies before the client has received any`, async () => {
    const request = 261_120;
    const content = randomBytes(48 * request);
    await fs.writeFile(peer.local('wide-window.bin'), content);
    const target = peer.target();
    const proxy = await startTcpProxy({ host: target.host, port: target.port });
    const relay = await startDelayRelay({ target: { host: proxy.host, port: proxy.port }, oneWayMs: thresholdMs / 2 });
    const session = await openSftp({ ...target, host: '127.0.0.1', port: (relay.address() as AddressInfo).port });
    try {
      expect(session.receiveWindow?.roundTripMs).toBeGreaterThanOrEqual(thresholdMs);
      expect(session.receiveWindow?.bytes).toBe(MAX_RECEIVE_WINDOW_BYTES);
      // With 4 MiB the server would stop at 4.
      await expectSentUnanswered(session, proxy, peer.remote('wide-window.bin'), content, request, 8 * MiB);
    } finally {
      await session.close();
      await new Promise((resolve) => relay.close(resolve));
      await proxy.close();
    }
  });
});

describe.each(peers)('streams spread over two SFTP channels with the $name', (peer) => {
  const MiB = 1024 * 1024;
  let proxy: TcpProxy;
  let session: SftpSession;
  let second: SFTPWrapper;
  beforeEach(async () => {
    const target = peer.target();
    proxy = await startTcpProxy({ host: target.host, port: target.port });
    session = await openSftp({ ...target, host: proxy.host, port: proxy.port });
    const more = await session.openChannels(1);
    expect(more).toHaveLength(1);
    second = more[0] as SFTPWrapper;
  });
  afterEach(async () => {
    await session?.close();
    await proxy?.close();
  });

  test('reads and writes a file byte for byte', async () => {
    const content = randomBytes(5 * MiB + 3);
    await fs.writeFile(peer.local('two-read.bin'), content);
    const got = await readAll(session, peer.remote('two-read.bin'), { size: content.length, moreChannels: [second] });
    expect(sha(got)).toBe(sha(content));
    const writer = new SftpWriteStream(session.sftp, peer.remote('two-write.bin'), { fsync: true, moreChannels: [second] });
    await pipeline(Readable.from([content.subarray(0, 1000), content.subarray(1000)]), writer);
    expect(writer.acknowledgedOffset).toBe(content.length);
    expect(sha(await fs.readFile(peer.local('two-write.bin')))).toBe(sha(content));
  });

  test('either channel closing fails the stream with CONNECTION_LOST (ssh2 would drop its requests silently)', async () => {
    await fs.writeFile(peer.local('two-lost.bin'), randomBytes(8 * MiB));
    // Eight requests in flight, not 64: with 64 the whole file is asked for at once, and the
    // second channel's replies could all be in before its close, so the read could end well.
    // With 8 the reader must still ask the closed channel for more after the first chunk.
    const reading = pipeline(
      new SftpReadStream(session.sftp, peer.remote('two-lost.bin'), { moreChannels: [second], maxInFlight: 8 }),
      new Writable({
        write(_chunk: Buffer, _e, cb) {
          second.end();
          cb();
        },
      }),
    );
    await expect(reading).rejects.toMatchObject({ code: 'CONNECTION_LOST', retryable: true });
  });

  test('the server sends 6 MiB of READ replies unanswered: a window on each channel (one allows 4)', async () => {
    const content = randomBytes(96 * 261_120);
    await fs.writeFile(peer.local('two-window.bin'), content);
    const chunks: Buffer[] = [];
    let keepStarted = false;
    let keeping: () => void = () => {};
    const kept = new Promise<void>((resolve) => {
      keeping = resolve;
    });
    const reading = pipeline(
      new SftpReadStream(session.sftp, peer.remote('two-window.bin'), { size: content.length, moreChannels: [second] }),
      new Writable({
        write(chunk: Buffer, _e, cb) {
          chunks.push(chunk);
          // From the first byte on, the client hears nothing more: no window updates go back.
          if (!keepStarted) {
            keepStarted = true;
            void proxy.keepFromTarget(6 * MiB).then(keeping);
          }
          cb();
        },
      }),
    );
    await orStalled(kept, () => `the server stopped after ${proxy.keptBytes} bytes, waiting for window updates`);
    proxy.deliverKept();
    await reading;
    expect(sha(Buffer.concat(chunks))).toBe(sha(content));
  });

  test('the client sends 3 MiB of WRITEs while it hears nothing back: a window on each channel (one allows 2)', async () => {
    const content = randomBytes(12 * MiB);
    const writer = new SftpWriteStream(session.sftp, peer.remote('two-write-window.bin'), { moreChannels: [second] });
    const done = finished(writer);
    // The file is open on both channels once the first piece's write is through (its WRITE went out).
    await new Promise<void>((resolve, reject) =>
      writer.write(content.subarray(0, 261_120), (err) => (err ? reject(err) : resolve())),
    );
    // From here nothing the server sends reaches the client: no replies, no window updates.
    const sent = proxy.untilSentToTarget(3 * MiB);
    void proxy.keepFromTarget(Number.POSITIVE_INFINITY);
    writer.end(content.subarray(261_120));
    await orStalled(sent, () => `the client stopped after ${proxy.sentToTarget} bytes, waiting for window updates`);
    proxy.deliverKept();
    await done;
    expect(sha(await fs.readFile(peer.local('two-write-window.bin')))).toBe(sha(content));
  });
});

describe('a further channel on which the file cannot be opened', () => {
  test('is left out: the streams read and write over the first', async () => {
    const [embeddedPeer, sshdPeer] = peers as [Peer, Peer];
    const session = await openSftp(sshdPeer.target());
    // A channel to the other server, where sshd's paths do not exist: like a server refusing a second handle.
    const elsewhere = await openSftp(embeddedPeer.target());
    try {
      const content = randomBytes(3 * 1024 * 1024 + 5);
      await fs.writeFile(sshdPeer.local('left-out-read.bin'), content);
      const got = await readAll(session, sshdPeer.remote('left-out-read.bin'), { moreChannels: [elsewhere.sftp] });
      expect(sha(got)).toBe(sha(content));
      const writer = new SftpWriteStream(session.sftp, sshdPeer.remote('left-out-write.bin'), { moreChannels: [elsewhere.sftp] });
      await pipeline(Readable.from([content]), writer);
      expect(sha(await fs.readFile(sshdPeer.local('left-out-write.bin')))).toBe(sha(content));
    } finally {
      await session.close();
      await elsewhere.close();
    }
  });
});

describe('the round trip decides whether a stream gets a second channel', () => {
  // 50 ms here (the worker's default is 5): the shortest of three loopback round trips stays far
  // below it even with the CPUs taken by others (measured: at most 8 ms under stress-ng --cpu 2,
  // 22 ms under --cpu 4 on 2 cores), and the relay below adds at least that much by construction.
  const thresholdMs = 50;
  const limits = { sftpChannelsMinBytes: 1, sftpChannelsMinRttMs: thresholdMs };

  test('on loopback: none (the round trip is well under the threshold)', async () => {
    const session = await openSftp(peers[1]?.target() as SftpTarget);
    try {
      expect(await session.roundTripMs()).toBeLessThan(thresholdMs);
      expect(await moreChannelsFor(session, 1024, 2, limits)).toEqual([]);
    } finally {
      await session.close();
    }
  });

  test(`over a link with ${thresholdMs} ms of round trip: one, which the server opens`, async () => {
    const target = peers[1]?.target() as SftpTarget;
    const relay = await startDelayRelay({ target: { host: target.host, port: target.port }, oneWayMs: thresholdMs / 2 });
    const session = await openSftp({ ...target, port: (relay.address() as AddressInfo).port });
    try {
      expect(await session.roundTripMs()).toBeGreaterThanOrEqual(thresholdMs);
      // The round trip the setup timed (for the receive window): no probe of its own, three round trips saved.
      expect(await session.roundTripMs()).toBe(session.receiveWindow?.roundTripMs);
      const more = await moreChannelsFor(session, 1024, 2, limits);
      expect(more).toHaveLength(1);
      const content = randomBytes(3 * 261_120 + 7);
      await fs.writeFile(path.join(sshd.dataDir, 'relayed.bin'), content);
      const got = await readAll(session, path.posix.join(sshd.dataDir, 'relayed.bin'), { moreChannels: more });
      expect(sha(got)).toBe(sha(content));
    } finally {
      await session.close();
      await new Promise((resolve) => relay.close(resolve));
    }
  });
});

describe('a connection cut mid-stream', () => {
  test('fails the reader with CONNECTION_LOST (retryable) after in-order bytes only', async () => {
    const content = randomBytes(8 * 1024 * 1024);
    await fs.writeFile(path.join(sshd.dataDir, 'cut-read.bin'), content);
    const proxy = await startTcpProxy({ host: sshd.host, port: sshd.port });
    try {
      const session = await openSftp(peers[1]?.target({ host: proxy.host, port: proxy.port }) as SftpTarget);
      try {
        const cut = proxy.cutAfter(2 * 1024 * 1024);
        const chunks: Buffer[] = [];
        const reading = pipeline(
          new SftpReadStream(session.sftp, path.posix.join(sshd.dataDir, 'cut-read.bin')),
          new Writable({
            write(chunk: Buffer, _e, cb) {
              chunks.push(chunk);
              cb();
            },
          }),
        );
        await expect(reading).rejects.toMatchObject({ code: 'CONNECTION_LOST', retryable: true });
        await cut;
        const got = Buffer.concat(chunks);
        expect(got.length).toBeLessThan(content.length);
        expect(got.equals(content.subarray(0, got.length))).toBe(true);
      } finally {
        await session.close();
      }
    } finally {
      await proxy.close();
    }
  });

  test('fails the writer with CONNECTION_LOST; every byte below acknowledgedOffset is on the server', async () => {
    const content = randomBytes(8 * 1024 * 1024);
    const request = 261_120;
    const proxy = await startTcpProxy({ host: sshd.host, port: sshd.port });
    try {
      const session = await openSftp(peers[1]?.target({ host: proxy.host, port: proxy.port }) as SftpTarget);
      try {
        const remote = path.posix.join(sshd.dataDir, 'cut-write.bin');
        // Four WRITEs in flight at most: a chunk's callback runs once all of it is sent, so the
        // callback of 12 requests' worth means the server has answered at least 8 of them.
        const writer = new SftpWriteStream(session.sftp, remote, { maxInFlight: 4 });
        const done = finished(writer);
        done.catch(() => undefined); // awaited below
        await new Promise<void>((resolve, reject) =>
          writer.write(content.subarray(0, 12 * request), (err) => (err ? reject(err) : resolve())),
        );
        expect(writer.acknowledgedOffset).toBeGreaterThanOrEqual(8 * request);
        writer.end(content.subarray(12 * request));
        expect(proxy.cutAll()).toBe(1);
        await expect(done).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
        const written = await fs.readFile(path.join(sshd.dataDir, 'cut-write.bin'));
        expect(writer.acknowledgedOffset).toBeGreaterThanOrEqual(8 * request);
        expect(writer.acknowledgedOffset).toBeLessThan(content.length);
        expect(written.subarray(0, writer.acknowledgedOffset).equals(content.subarray(0, writer.acknowledgedOffset))).toBe(true);
      } finally {
        await session.close();
      }
    } finally {
      await proxy.close();
    }
  });
});
