/**
 * The two SFTP peers the engine is tested against, exercised with the client
 * library the engine uses (ssh2-sftp-client): the embedded server that stands
 * in for partners in the local runtime, and a private OpenSSH sshd as the
 * reference. Shared behaviours run against both; jail, auth and policy
 * behaviours against the embedded server only.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import {
  type EmbeddedSftpServer,
  generateEd25519KeyPair,
  type SftpServerOptions,
  sshKeyFingerprint,
  startSftpServer,
} from '../../local/sftp-server';
import { type Sshd, startSshd } from '../support/sshd';

const FILE_SIZE = 4 * 1024 * 1024;
/** Status codes from the SFTP v3 draft, as ssh2-sftp-client reports them in `err.code`. */
const SFTP_FAILURE = 4;
const SFTP_PERMISSION_DENIED = 3;

interface Credentials {
  host: string;
  port: number;
  username: string;
  privateKey?: string;
  password?: string;
  hostKeyFingerprint: string;
}

interface Connected {
  client: SftpClient;
  /** The raw ssh2 SFTP session, for requests the library does not expose. */
  sftp: SFTPWrapper;
}

const openClients = new Set<SftpClient>();

async function connect(creds: Credentials): Promise<Connected> {
  // Quiet global listeners: the library's defaults log every end/close.
  const client = new SftpClient('test', { error: () => {}, end: () => {}, close: () => {} });
  openClients.add(client);
  const sftp = await client.connect({
    host: creds.host,
    port: creds.port,
    username: creds.username,
    privateKey: creds.privateKey,
    password: creds.password,
    // ssh2 accepts a socket of ours; creating it with noDelay disables Nagle's
    // algorithm from the first byte (the typed alternative to reaching into
    // the untyped `client.client.setNoDelay(true)` after connecting).
    sock: net.connect({ host: creds.host, port: creds.port, noDelay: true }),
    hostVerifier: (key: Buffer) => sshKeyFingerprint(key) === creds.hostKeyFingerprint,
    readyTimeout: 5000,
  });
  return { client, sftp };
}

afterEach(async () => {
  await Promise.all([...openClients].map((c) => c.end().catch(() => false)));
  openClients.clear();
});

let localDir: string;
let sourceFile: string;
let sourceBytes: Buffer;

beforeAll(async () => {
  localDir = await fs.mkdtemp(path.join(os.tmpdir(), 'eft-sftp-peers-'));
  sourceFile = path.join(localDir, 'source.bin');
  sourceBytes = randomBytes(FILE_SIZE);
  await fs.writeFile(sourceFile, sourceBytes);
});

afterAll(async () => {
  await fs.rm(localDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// Peers

interface Peer {
  /** Credentials of a key-authenticated user. */
  creds: Credentials;
  /** Remote directory under which tests make their own directories. */
  base: string;
  stop(): Promise<void>;
}

interface EmbeddedPeer extends Peer {
  server: EmbeddedSftpServer;
  /** The server's root on local disk. */
  root: string;
}

async function startEmbeddedPeer(policy: Partial<SftpServerOptions> = {}): Promise<EmbeddedPeer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'eft-embedded-'));
  const root = path.join(dir, 'root');
  await fs.mkdir(root);
  const key = generateEd25519KeyPair();
  const server = await startSftpServer({
    root,
    users: [
      { username: 'bob', publicKey: key.public },
      { username: 'alice', password: 'correct horse battery staple' },
    ],
    ...policy,
  });
  return {
    server,
    root,
    base: '',
    creds: {
      host: server.host,
      port: server.port,
      username: 'bob',
      privateKey: key.private,
      hostKeyFingerprint: server.hostKeyFingerprint,
    },
    stop: async () => {
      await server.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

async function startSshdPeer(): Promise<Peer & { sshd: Sshd }> {
  const sshd = await startSshd();
  return {
    sshd,
    base: sshd.dataDir,
    creds: {
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.privateKey,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
    },
    stop: () => sshd.stop(),
  };
}

/** Collects a stream into memory (ssh2-sftp-client's get() into a Writable). */
function memorySink(): { sink: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { sink, bytes: () => Buffer.concat(chunks) };
}

let dirCounter = 0;

// ---------------------------------------------------------------------------
// Behaviours both peers must share

describe.each([
  ['embedded server', () => startEmbeddedPeer()],
  ['OpenSSH sshd', () => startSshdPeer()],
])('%s', (_name, start: () => Promise<Peer>) => {
  let peer: Peer;
  let client: SftpClient;
  let dir: string;

  beforeAll(async () => {
    peer = await start();
  });
  afterAll(async () => {
    await peer?.stop();
  });
  beforeEach(async () => {
    ({ client } = await connect(peer.creds));
    dir = `${peer.base}/t${++dirCounter}`;
    await client.mkdir(dir);
  });

  test('fastPut and fastGet round-trip a 4 MiB file byte for byte', async () => {
    const back = path.join(localDir, `fast-${dirCounter}.bin`);
    await client.fastPut(sourceFile, `${dir}/a.bin`);
    await client.fastGet(`${dir}/a.bin`, back);
    expect((await fs.readFile(back)).equals(sourceBytes)).toBe(true);
  });

  test('put from a stream and get into a stream round-trip a 4 MiB file byte for byte', async () => {
    await client.put(Readable.from([sourceBytes.subarray(0, 1000), sourceBytes.subarray(1000)]), `${dir}/s.bin`);
    const { sink, bytes } = memorySink();
    await client.get(`${dir}/s.bin`, sink);
    expect(bytes().equals(sourceBytes)).toBe(true);
  });

  test('list returns each entry with its name, type and size', async () => {
    await client.put(Buffer.from('hello'), `${dir}/hello.txt`);
    await client.mkdir(`${dir}/sub`);
    const entries = await client.list(dir);
    const summary = entries.map((e) => ({ name: e.name, type: e.type, size: e.type === '-' ? e.size : undefined }));
    expect(summary.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'hello.txt', type: '-', size: 5 },
      { name: 'sub', type: 'd', size: undefined },
    ]);
  });

  test('mkdir creates a directory that stat reports as a directory', async () => {
    await client.mkdir(`${dir}/made`);
    expect((await client.stat(`${dir}/made`)).isDirectory).toBe(true);
  });

  test('stat reports the size of a file and that it is a file', async () => {
    await client.put(Buffer.alloc(1234, 7), `${dir}/f.bin`);
    const st = await client.stat(`${dir}/f.bin`);
    expect({ size: st.size, isFile: st.isFile, isDirectory: st.isDirectory }).toEqual({
      size: 1234,
      isFile: true,
      isDirectory: false,
    });
  });

  test('rename moves a file to a new name', async () => {
    await client.put(Buffer.from('payload'), `${dir}/from.txt`);
    await client.rename(`${dir}/from.txt`, `${dir}/to.txt`);
    expect(await client.exists(`${dir}/from.txt`)).toBe(false);
    expect((await client.get(`${dir}/to.txt`)).toString()).toBe('payload');
  });

  test('rename onto an existing name fails with FAILURE and changes neither file', async () => {
    await client.put(Buffer.from('new'), `${dir}/new.txt`);
    await client.put(Buffer.from('old'), `${dir}/old.txt`);
    await expect(client.rename(`${dir}/new.txt`, `${dir}/old.txt`)).rejects.toMatchObject({ code: SFTP_FAILURE });
    expect((await client.get(`${dir}/new.txt`)).toString()).toBe('new');
    expect((await client.get(`${dir}/old.txt`)).toString()).toBe('old');
  });

  test('posixRename replaces an existing file', async () => {
    await client.put(Buffer.from('new'), `${dir}/new.txt`);
    await client.put(Buffer.from('old'), `${dir}/old.txt`);
    await client.posixRename(`${dir}/new.txt`, `${dir}/old.txt`);
    expect(await client.exists(`${dir}/new.txt`)).toBe(false);
    expect((await client.get(`${dir}/old.txt`)).toString()).toBe('new');
  });

  test('delete removes a file', async () => {
    await client.put(Buffer.from('x'), `${dir}/gone.txt`);
    await client.delete(`${dir}/gone.txt`);
    expect(await client.exists(`${dir}/gone.txt`)).toBe(false);
  });

  test('a client expecting a different host key refuses to connect', async () => {
    const wrong = sshKeyFingerprint(Buffer.from('not the host key'));
    await expect(connect({ ...peer.creds, hostKeyFingerprint: wrong })).rejects.toThrow(/verification failed/i);
  });
});

// ---------------------------------------------------------------------------
// Embedded server only: the jail, authentication, policy knobs, and the
// pitfalls real clients hit

describe('embedded server', () => {
  let peer: EmbeddedPeer;

  beforeAll(async () => {
    peer = await startEmbeddedPeer();
    // Beside the root, and a link from inside the root to it.
    await fs.writeFile(path.join(peer.root, '..', 'secret.txt'), 'outside');
    await fs.symlink(path.join(peer.root, '..'), path.join(peer.root, 'escape'));
  });
  afterAll(async () => {
    await peer?.stop();
  });

  test('a user with a password logs in with it', async () => {
    const { client } = await connect({
      ...peer.creds,
      username: 'alice',
      privateKey: undefined,
      password: 'correct horse battery staple',
    });
    expect(await client.realPath('.')).toBe('/');
  });

  test('a wrong password is refused', async () => {
    const creds = { ...peer.creds, username: 'alice', privateKey: undefined, password: 'wrong' };
    await expect(connect(creds)).rejects.toThrow(/authentication methods failed/i);
  });

  test('a public key that is not authorized is refused', async () => {
    const stranger = generateEd25519KeyPair();
    await expect(connect({ ...peer.creds, privateKey: stranger.private })).rejects.toThrow(/authentication methods failed/i);
  });

  test('uploading to ../../name lands inside the root', async () => {
    const { client } = await connect(peer.creds);
    await client.put(Buffer.from('in'), '../../climbed.txt');
    expect(await fs.readFile(path.join(peer.root, 'climbed.txt'), 'utf8')).toBe('in');
    await expect(fs.access(path.join(peer.root, '..', '..', 'climbed.txt'))).rejects.toThrow();
  });

  test('a file beside the root cannot be read through ../', async () => {
    const { client } = await connect(peer.creds);
    await expect(client.get('../secret.txt')).rejects.toMatchObject({ code: 2 });
  });

  test('a symlink inside the root that points outside it is refused with PERMISSION_DENIED', async () => {
    const { client } = await connect(peer.creds);
    await expect(client.get('/escape/secret.txt')).rejects.toMatchObject({ code: SFTP_PERMISSION_DENIED });
  });

  test('READ and WRITE on a closed handle are answered with FAILURE', async () => {
    const { client, sftp } = await connect(peer.creds);
    await client.put(Buffer.from('data'), '/handle.txt');
    const handle = await new Promise<Buffer>((resolve, reject) =>
      sftp.open('/handle.txt', 'r+', (err, h) => (err ? reject(err) : resolve(h))),
    );
    await new Promise<void>((resolve, reject) => sftp.close(handle, (err) => (err ? reject(err) : resolve())));
    const readErr = await new Promise<unknown>((resolve) => sftp.read(handle, Buffer.alloc(4), 0, 4, 0, (err) => resolve(err)));
    const writeErr = await new Promise<unknown>((resolve) =>
      sftp.write(handle, Buffer.from('x'), 0, 1, 0, (err) => resolve(err)),
    );
    expect([readErr, writeErr]).toMatchObject([{ code: SFTP_FAILURE }, { code: SFTP_FAILURE }]);
  });

  test('forbidRename makes rename fail with PERMISSION_DENIED', async () => {
    const strict = await startEmbeddedPeer({ forbidRename: true });
    try {
      const { client } = await connect(strict.creds);
      await client.put(Buffer.from('x'), '/a.txt');
      await expect(client.rename('/a.txt', '/b.txt')).rejects.toMatchObject({ code: SFTP_PERMISSION_DENIED });
    } finally {
      await strict.stop();
    }
  });

  test('with posixRename off the extension is not offered', async () => {
    const plain = await startEmbeddedPeer({ posixRename: false });
    try {
      const { client } = await connect(plain.creds);
      await client.put(Buffer.from('x'), '/a.txt');
      await expect(client.posixRename('/a.txt', '/b.txt')).rejects.toThrow(/not support/i);
    } finally {
      await plain.stop();
    }
  });

  test('renameOverwrites lets plain rename replace an existing file', async () => {
    const lenient = await startEmbeddedPeer({ renameOverwrites: true });
    try {
      const { client } = await connect(lenient.creds);
      await client.put(Buffer.from('new'), '/new.txt');
      await client.put(Buffer.from('old'), '/old.txt');
      await client.rename('/new.txt', '/old.txt');
      expect((await client.get('/old.txt')).toString()).toBe('new');
    } finally {
      await lenient.stop();
    }
  });

  test('readOnly refuses uploads with PERMISSION_DENIED', async () => {
    const readOnly = await startEmbeddedPeer({ readOnly: true });
    try {
      const { client } = await connect(readOnly.creds);
      await expect(client.put(Buffer.from('x'), '/a.txt')).rejects.toMatchObject({ code: SFTP_PERMISSION_DENIED });
    } finally {
      await readOnly.stop();
    }
  });

  test('close() disconnects connected clients', async () => {
    const closing = await startEmbeddedPeer();
    const { client } = await connect(closing.creds);
    const disconnected = new Promise<void>((resolve) => client.on('close', () => resolve()));
    await closing.stop();
    await disconnected;
    await expect(client.list('/')).rejects.toThrow();
  });

  test("OpenSSH's sftp client puts and gets a 4 MiB file in batch mode and exits", async () => {
    // The CLI reads its key from a file that must not be readable by others.
    const keyFile = path.join(localDir, 'cli_key');
    await fs.writeFile(keyFile, peer.creds.privateKey ?? '', { mode: 0o600 });
    const back = path.join(localDir, 'cli-back.bin');
    const batch = path.join(localDir, 'batch.txt');
    await fs.writeFile(batch, `put ${sourceFile} /cli.bin\nls -l /\nget /cli.bin ${back}\n`);
    const args = ['-b', batch, '-P', String(peer.server.port), '-i', keyFile, '-F', '/dev/null'];
    args.push('-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes');
    args.push(`${peer.creds.username}@${peer.server.host}`);
    const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
      // The pitfall this guards: a server that never closes the channel leaves
      // sftp hanging at exit. The timeout turns a hang into a failure.
      const child = spawn('sftp', args, { timeout: 10_000, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (s: string) => {
        stderr += s;
      });
      child.on('close', (code, signal) => resolve({ code, signal, stderr }));
    });
    expect(result).toMatchObject({ code: 0, signal: null });
    expect((await fs.readFile(back)).equals(sourceBytes)).toBe(true);
  }, 15_000);
});
