/**
 * The listeners a batch's shared SFTP session leaves on its ssh2 Client.
 *
 * A batch moves up to hundreds of small files over one session per endpoint
 * (SftpConnector), 16 at a time. Each file that fails on the session resets it
 * (a stall, a lost link, the slot taken over under split brain), often all 16
 * in the same moment. Every call of ssh2-sftp-client's end() adds a 'close', an
 * 'end' and an 'error' listener to the ssh2 Client and one more 'close'
 * listener it waits on, until the connection has closed: one end() per reset
 * stacked them up past Node's 10 (MaxListenersExceededWarning: 11 close
 * listeners added to [Client], seen in `npm run drill -- --split-brain`). A
 * session is now closed once, however many files reset it.
 *
 * Against the embedded SFTP server and OpenSSH's sshd, each behind a TCP
 * proxy (to stall the link as a partner does).
 */
import type { EventEmitter } from 'node:events';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'ssh2';
import { openSftp, type SftpSession } from '../../core/adapters/sftp/connect';
import type { SftpEndpoint } from '../../core/adapters/sftp/location';
import { sessionGate } from '../../core/adapters/sftp/session-gate';
import { SftpConnector } from '../../core/adapters/sftp/transfer/connector';
import { SftpReadStream } from '../../core/adapters/sftp/transfer/read-stream';
import { SftpWriteStream } from '../../core/adapters/sftp/transfer/write-stream';
import type { EndpointCredentials, SecretStore } from '../../core/domain/secrets';
import { type HeldSlot, type SessionSlots, SlotLostError } from '../../core/domain/session-slots';
import { type EmbeddedSftpServer, startSftpServer } from '../../local/sftp-server';
import { type Sshd, startSshd } from '../support/sshd';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

// A busy 2-core machine makes these seconds, not milliseconds (the default bound is 5 s).
jest.setTimeout(30_000);

const LOOPBACK = { allowedCidrs: ['127.0.0.0/8'] };
const PASSWORD = 'session-listeners-password';
/** A batch's files in flight on one session (run-batch.ts's BATCH_FILES_IN_FLIGHT). */
const FILES = 16;
const EVENTS = ['close', 'end', 'error'] as const;

let tmp: string;
let embedded: EmbeddedSftpServer;
let sshd: Sshd;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'eft-session-listeners-'));
  await fs.mkdir(path.join(tmp, 'root'));
  [embedded, sshd] = await Promise.all([
    startSftpServer({ root: path.join(tmp, 'root'), users: [{ username: 'partner', password: PASSWORD }] }),
    startSshd(),
  ]);
});

afterAll(async () => {
  await Promise.all([embedded?.close(), sshd?.stop()]);
  await fs.rm(tmp, { recursive: true, force: true });
});

interface Peer {
  name: string;
  server(): { host: string; port: number; username: string; hostKeyFingerprint: string; credentials: EndpointCredentials };
  /** A folder the files go to, as the client names it. */
  folder(): string;
}

const peers: Peer[] = [
  {
    name: 'embedded server',
    server: () => ({ ...embedded, username: 'partner', credentials: { password: PASSWORD } }),
    folder: () => '/',
  },
  {
    name: 'OpenSSH sshd',
    server: () => ({ ...sshd, credentials: { privateKey: sshd.privateKey } }),
    folder: () => sshd.dataDir,
  },
];

/** ssh2's Client inside ssh2-sftp-client's (untyped `client`). */
const sshOf = (session: SftpSession) => (session.client as unknown as { client: Client }).client;
const countsOn = (emitter: EventEmitter) => Object.fromEntries(EVENTS.map((event) => [event, emitter.listenerCount(event)]));
const counts = (ssh: Client) => countsOn(ssh);

/** The most listeners of each event the client had at once, from now on. */
function peakListeners(ssh: EventEmitter): Record<(typeof EVENTS)[number], number> {
  const peak = { close: ssh.listenerCount('close'), end: ssh.listenerCount('end'), error: ssh.listenerCount('error') };
  // Called before the listener is added.
  ssh.on('newListener', (event: string) => {
    if (event === 'close' || event === 'end' || event === 'error') {
      peak[event] = Math.max(peak[event], ssh.listenerCount(event) + 1);
    }
  });
  return peak;
}

describe.each(peers)('a batch session to the $name', (peer) => {
  let proxy: TcpProxy;
  let connector: SftpConnector;
  let slots: FakeSlots;

  beforeEach(async () => {
    const server = peer.server();
    proxy = await startTcpProxy(server);
    slots = new FakeSlots();
    const endpoint: SftpEndpoint = {
      customerId: 'customer',
      endpointId: 'partner',
      name: 'partner',
      type: 'SFTP',
      direction: 'BOTH',
      status: 'ACTIVE',
      maxConcurrency: 1,
      secretRef: 'partner-secret',
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      version: 1,
      sftp: {
        host: proxy.host,
        port: proxy.port,
        username: server.username,
        basePath: peer.folder(),
        authType: server.credentials.password ? 'PASSWORD' : 'PRIVATE_KEY',
        hostKeyFingerprint: server.hostKeyFingerprint,
      },
    };
    const secrets = { read: async () => server.credentials } as unknown as SecretStore;
    connector = new SftpConnector(
      {
        secrets,
        open: sessionGate((target) => openSftp(target), slots, 'test'),
        networkPolicy: LOOPBACK,
        connectTimeoutMs: 20_000,
      },
      endpoint,
    );
  });

  afterEach(async () => {
    proxy.cutHeld();
    await connector.close();
    await proxy.close();
  });

  /** `files` files that have each connected and made a request on the shared session. */
  /** FILES files on one session, with the client's listener counts before, their peak from now on, and its end() calls. */
  async function watchedSession() {
    const session = await filesOnOneSession(FILES);
    const ssh = sshOf(session);
    return { session, ssh, before: counts(ssh), peak: peakListeners(ssh), ends: jest.spyOn(session.client, 'end') };
  }

  async function filesOnOneSession(files: number): Promise<SftpSession> {
    const connected = await Promise.all(Array.from({ length: files }, () => connector.connect()));
    await Promise.all(connected.map(({ channel }) => channel.stat(peer.folder())));
    const sessions = new Set(connected.map(({ session }) => session));
    expect(sessions.size).toBe(1);
    return connected[0]?.session as SftpSession;
  }

  test('50 files, one after the other, leave the ssh2 client and the SFTP channel the listeners they had after the first', async () => {
    const moveOne = async (i: number) => {
      const { session, channel } = await connector.connect();
      const file = path.posix.join(peer.folder(), `listeners-${i}.tmp`);
      const content = Buffer.from(`file ${i} of the batch\n`.repeat(64));
      await pipeline(Readable.from([content]), new SftpWriteStream(session.sftp, file, { where: connector.where }));
      await channel.rename(file, `${file}.done`);
      const size = (await channel.stat(`${file}.done`)).size;
      const chunks: Buffer[] = [];
      for await (const chunk of new SftpReadStream(session.sftp, `${file}.done`, { size, where: connector.where })) {
        chunks.push(chunk as Buffer);
      }
      expect(Buffer.concat(chunks).equals(content)).toBe(true);
      await channel.unlink(`${file}.done`);
    };
    await moveOne(0);
    const { session } = await connector.connect();
    const afterOne = { client: counts(sshOf(session)), channel: countsOn(session.sftp) };
    for (let i = 1; i < 50; i++) await moveOne(i);

    expect((await connector.connect()).session).toBe(session);
    expect({ client: counts(sshOf(session)), channel: countsOn(session.sftp) }).toEqual(afterOne);
    expect(proxy.connections).toBe(1);
  });

  test(`${FILES} files reset the session at once: one disconnect, the client's listeners stay bounded`, async () => {
    const { session, ssh, before, peak, ends } = await watchedSession();

    // Each file's attempt failed on this session, and each drops it (copy-file.ts: source.reset(), target.reset()).
    await Promise.all(Array.from({ length: FILES }, () => connector.reset(session)));

    // One end(): its own close/end/error listeners and the 'close' it waits for.
    expect(peak).toEqual({ close: (before.close ?? 0) + 2, end: (before.end ?? 0) + 1, error: (before.error ?? 0) + 1 });
    expect(ends).toHaveBeenCalledTimes(1);
    expect(counts(ssh)).toEqual(before);
    // The next file connects afresh.
    const next = await connector.connect();
    expect(next.session).not.toBe(session);
    expect(proxy.connections).toBe(2);
  });

  /**
   * `files` requests on the session that the partner never answers (the proxy holds the link from now on,
   * the SSH disconnect's included), each settled as the file would see it (in an object: an async function's
   * promise would wait for them).
   */
  async function stalledRequests(files: number): Promise<{ settled: Promise<PromiseSettledResult<unknown>[]> }> {
    const held = proxy.holdAfter(0);
    const requests = Array.from({ length: files }, async () => (await connector.connect()).channel.stat(peer.folder()));
    const settled = Promise.allSettled(requests);
    await held;
    return { settled };
  }

  const lostConnections = (outcomes: PromiseSettledResult<unknown>[]) =>
    outcomes.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as { code?: string }).code : 'answered'));

  test(`a stalled link: ${FILES} files give up and reset the session; their requests fail with CONNECTION_LOST as it closes, one disconnect`, async () => {
    const { session, ssh, before, peak, ends } = await watchedSession();
    const { settled } = await stalledRequests(FILES);

    // Each file's stall watchdog gives up on it (copy-file.ts: a stalled connection is dropped).
    await Promise.all(Array.from({ length: FILES }, () => connector.reset(session)));
    const outcomes = await settled;

    expect(lostConnections(outcomes)).toEqual(Array(FILES).fill('CONNECTION_LOST'));
    expect(peak).toEqual({ close: (before.close ?? 0) + 2, end: (before.end ?? 0) + 1, error: (before.error ?? 0) + 1 });
    expect(ends).toHaveBeenCalledTimes(1);
    await ends.mock.results[0]?.value;
    expect(counts(ssh)).toEqual(before);
  });

  test(`the slot is taken over (split brain) while ${FILES} files wait on the session: they fail with CONNECTION_LOST, it is closed once, the slot released once`, async () => {
    const { session, ssh, before, peak, ends } = await watchedSession();
    const { settled } = await stalledRequests(FILES);

    // The gate closes the session at once; each file's request fails, and the file resets the session (source.ts's stat).
    slots.lose();
    const outcomes = await settled;
    await Promise.all(Array.from({ length: FILES }, () => connector.reset(session)));

    expect(lostConnections(outcomes)).toEqual(Array(FILES).fill('CONNECTION_LOST'));
    expect(peak).toEqual({ close: (before.close ?? 0) + 2, end: (before.end ?? 0) + 1, error: (before.error ?? 0) + 1 });
    expect(ends).toHaveBeenCalledTimes(1);
    await ends.mock.results[0]?.value;
    expect(slots.releases).toBe(1);
    expect(counts(ssh)).toEqual(before);
    // Their retries share one new session, in a new slot.
    const retried = await Promise.all(Array.from({ length: FILES }, () => connector.connect()));
    expect(new Set(retried.map(({ session: s }) => s)).size).toBe(1);
    expect(retried[0]?.session).not.toBe(session);
    expect(proxy.connections).toBe(2);
  });
});

/** Session slots whose held slot the test can lose (the other region took it over), counting releases. */
class FakeSlots implements SessionSlots {
  releases = 0;
  private readonly held: { listeners: ((reason: SlotLostError) => void)[] }[] = [];

  async acquire(): Promise<HeldSlot> {
    const state = { listeners: [] as ((reason: SlotLostError) => void)[] };
    this.held.push(state);
    const first = this.held.length === 1;
    return {
      endpointId: 'partner',
      slot: 0,
      onLost: (listener) => state.listeners.push(listener),
      release: async () => {
        if (first) this.releases++;
      },
    };
  }

  /** The first slot taken is lost. */
  lose(): void {
    for (const listener of this.held[0]?.listeners.splice(0) ?? []) listener(new SlotLostError('taken over'));
  }
}
