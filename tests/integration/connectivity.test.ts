/**
 * Endpoint validation (FR-5) and the SFTP connection factory, against real
 * peers on loopback: the embedded SFTP server (policy knobs), a private
 * OpenSSH sshd (the reference) and the local S3 emulator.
 */
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { utils } from 'ssh2';
import type { NetworkPolicy } from '../../core/adapters/net/network-policy';
import { probeS3 } from '../../core/adapters/s3/probe';
import { openSftp, type SftpTarget } from '../../core/adapters/sftp/connect';
import { probeSftp } from '../../core/adapters/sftp/probe';
import { HostKeyMismatchError, HostKeyUnconfirmedError } from '../../core/domain/connectivity-errors';
import type { ProbeOutcome } from '../../core/domain/endpoint';
import type { EndpointCredentials } from '../../core/domain/secrets';
import { type LocalS3, startS3 } from '../../local/s3';
import {
  type EmbeddedSftpServer,
  generateEd25519KeyPair,
  type SftpServerOptions,
  sshKeyFingerprint,
  startSftpServer,
} from '../../local/sftp-server';
import { localS3Client } from '../support/s3';
import { freePort, type Sshd, startSshd } from '../support/sshd';

const LOOPBACK: NetworkPolicy = { allowedCidrs: ['127.0.0.0/8'] };
const PASSWORD = 'correct horse battery staple';
const WRONG_PASSWORD = 'Tr0ub4dor&3-wrong';
const BOB_KEY = generateEd25519KeyPair();
/** A key nobody authorized, for the wrong-key cases. */
const STRANGER_KEY = generateEd25519KeyPair();
/** A fingerprint no server has. */
const BOGUS_FINGERPRINT = sshKeyFingerprint(Buffer.from('not a host key'));
/** What OpenSSH's sshd and the embedded server (with its default policy) allow in a writable base path. */
const REFERENCE_CAPABILITIES = {
  write: true,
  renameToNew: true,
  renameOverExisting: false,
  posixRename: true,
  checkFile: false,
  multiHandleWrite: true,
  // Under the default SSH security policy (FIPS-2024), both peers settle on its first choices.
  negotiated: {
    kex: 'ecdh-sha2-nistp256',
    cipher: 'aes128-gcm@openssh.com',
    mac: '',
    serverHostKey: 'ecdsa-sha2-nistp256',
  },
};

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'eft-connectivity-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** JSON of the outcome contains no secret: not the password or passphrase, not any line of the private key. */
function expectNoSecrets(outcome: ProbeOutcome, credentials: EndpointCredentials): void {
  const json = JSON.stringify(outcome);
  const secrets = [credentials.password, credentials.passphrase, ...(credentials.privateKey?.split('\n') ?? [])].filter(
    (s): s is string => s !== undefined && s.trim() !== '' && !s.startsWith('-----'),
  );
  expect(secrets.length).toBeGreaterThan(0);
  for (const secret of secrets) expect(json).not.toContain(secret.trim());
}

async function filesIn(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).sort();
}

// ---------------------------------------------------------------------------
// Embedded server

interface Embedded {
  server: EmbeddedSftpServer;
  root: string;
  stop(): Promise<void>;
}

let serverCount = 0;

/** An embedded server with /inbox holding one customer file; bob logs in by key, alice by password. */
async function startEmbedded(policy: Partial<SftpServerOptions> = {}): Promise<Embedded> {
  const root = path.join(tmp, `root-${++serverCount}`);
  await fs.mkdir(path.join(root, 'inbox'), { recursive: true });
  await fs.writeFile(path.join(root, 'inbox', 'keep.txt'), 'customer data');
  const server = await startSftpServer({
    root,
    users: [
      { username: 'bob', publicKey: BOB_KEY.public },
      { username: 'alice', password: PASSWORD },
    ],
    ...policy,
  });
  return { server, root, stop: () => server.close() };
}

function embeddedTarget(server: EmbeddedSftpServer, overrides: Partial<SftpTarget> = {}): SftpTarget {
  return {
    host: server.host,
    port: server.port,
    username: 'alice',
    credentials: { password: PASSWORD },
    hostKeyFingerprint: server.hostKeyFingerprint,
    networkPolicy: LOOPBACK,
    readyTimeoutMs: 5000,
    ...overrides,
  };
}

describe('SFTP validation against the embedded server', () => {
  let peer: Embedded;
  beforeAll(async () => {
    peer = await startEmbedded();
  });
  afterAll(async () => {
    await peer?.stop();
  });

  test('a password user validates, with the capabilities recorded and only the customer file left behind', async () => {
    const outcome = await probeSftp(embeddedTarget(peer.server), '/inbox');
    expect(outcome).toEqual({
      ok: true,
      capabilities: REFERENCE_CAPABILITIES,
    });
    expect(await filesIn(path.join(peer.root, 'inbox'))).toEqual(['keep.txt']);
    expect(await fs.readFile(path.join(peer.root, 'inbox', 'keep.txt'), 'utf8')).toBe('customer data');
  });

  test('a key user validates', async () => {
    const target = embeddedTarget(peer.server, { username: 'bob', credentials: { privateKey: BOB_KEY.private } });
    await expect(probeSftp(target, '/inbox')).resolves.toMatchObject({ ok: true, capabilities: { write: true } });
  });

  test('a wrong password is AUTH_FAILED, saying what to check and not what was tried', async () => {
    const credentials = { password: WRONG_PASSWORD };
    const outcome = await probeSftp(embeddedTarget(peer.server, { credentials }), '/inbox');
    expect(outcome).toEqual({
      ok: false,
      reason: 'AUTH_FAILED',
      message: `authentication failed for user 'alice' at 127.0.0.1:${peer.server.port}: check the user name and password`,
    });
    expectNoSecrets(outcome, credentials);
  });

  test('a key the server does not know is AUTH_FAILED, without any line of the key in the outcome', async () => {
    const credentials = { privateKey: STRANGER_KEY.private };
    const outcome = await probeSftp(embeddedTarget(peer.server, { username: 'bob', credentials }), '/inbox');
    expect(outcome).toMatchObject({ ok: false, reason: 'AUTH_FAILED', message: expect.stringContaining("user 'bob'") });
    expectNoSecrets(outcome, credentials);
  });

  test('a key with the wrong passphrase is AUTH_FAILED before connecting, without the key or passphrase', async () => {
    // RSA: ssh2 1.17 writes a malformed ed25519 key about once in 256 (see generateEd25519KeyPair).
    const encrypted = utils.generateKeyPairSync('rsa', { bits: 2048, passphrase: 'the right passphrase', cipher: 'aes256-ctr' });
    const credentials = { privateKey: encrypted.private, passphrase: 'a wrong passphrase' };
    const outcome = await probeSftp(embeddedTarget(peer.server, { username: 'bob', credentials }), '/inbox');
    expect(outcome).toMatchObject({
      ok: false,
      reason: 'AUTH_FAILED',
      message: expect.stringMatching(/check the key and its passphrase$/),
    });
    expectNoSecrets(outcome, credentials);
  });

  test('a host key other than the pinned one is HOST_KEY_MISMATCH, reporting what was offered', async () => {
    const credentials = { password: PASSWORD };
    const outcome = await probeSftp(
      embeddedTarget(peer.server, { hostKeyFingerprint: BOGUS_FINGERPRINT, credentials }),
      '/inbox',
    );
    const offered = peer.server.hostKeyFingerprint;
    expect(outcome).toMatchObject({ ok: false, reason: 'HOST_KEY_MISMATCH', offeredHostKeyFingerprint: offered });
    expect(outcome.ok === false && outcome.message).toContain(
      `host key ${offered} offered by 127.0.0.1:${peer.server.port} does not match the pinned ${BOGUS_FINGERPRINT}`,
    );
    expectNoSecrets(outcome, credentials);
  });

  test('without a pinned host key the connection is refused as HOST_KEY_UNCONFIRMED, with the offered fingerprint', async () => {
    const credentials = { password: PASSWORD };
    const outcome = await probeSftp(embeddedTarget(peer.server, { hostKeyFingerprint: undefined, credentials }), '/inbox');
    expect(outcome).toMatchObject({
      ok: false,
      reason: 'HOST_KEY_UNCONFIRMED',
      offeredHostKeyFingerprint: peer.server.hostKeyFingerprint,
    });
    expectNoSecrets(outcome, credentials);
  });

  test('openSftp throws the typed host key errors, carrying the fingerprints', async () => {
    const unpinned = await openSftp(embeddedTarget(peer.server, { hostKeyFingerprint: undefined })).catch((e: unknown) => e);
    expect(unpinned).toBeInstanceOf(HostKeyUnconfirmedError);
    expect(unpinned).toMatchObject({ code: 'HOST_KEY_UNCONFIRMED', offeredFingerprint: peer.server.hostKeyFingerprint });
    const wrong = await openSftp(embeddedTarget(peer.server, { hostKeyFingerprint: BOGUS_FINGERPRINT })).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(HostKeyMismatchError);
    expect(wrong).toMatchObject({
      code: 'HOST_KEY_MISMATCH',
      offeredFingerprint: peer.server.hostKeyFingerprint,
      pinnedFingerprint: BOGUS_FINGERPRINT,
    });
  });

  test('openSftp connects to the vetted address with TCP_NODELAY and reports the advertised extensions', async () => {
    const setNoDelay = jest.spyOn(net.Socket.prototype, 'setNoDelay');
    try {
      // The name exists only in this resolver: connecting works only if the vetted address is used, not the name.
      const session = await openSftp(embeddedTarget(peer.server, { host: 'sftp.partner.example' }), {
        resolver: async () => [{ address: '127.0.0.1', family: 4 }],
      });
      try {
        // The client's own socket (the embedded server sets noDelay on its side too, in this same process).
        const clientSide = setNoDelay.mock.contexts.flatMap((socket, i) =>
          (socket as net.Socket).remotePort === peer.server.port ? [setNoDelay.mock.calls[i]?.[0]] : [],
        );
        expect(clientSide).toEqual([true]);
        expect(session.address).toBe('127.0.0.1');
        expect(session.hostKeyFingerprint).toBe(peer.server.hostKeyFingerprint);
        expect(session.supportedExtensions).toMatchObject({ 'posix-rename@openssh.com': '1', 'fsync@openssh.com': '1' });
        expect((await session.client.list('/inbox')).map((e) => e.name)).toEqual(['keep.txt']);
      } finally {
        await session.close();
      }
      await session.close(); // idempotent
    } finally {
      setNoDelay.mockRestore();
    }
  });

  test('a base path that does not exist is PATH_MISSING', async () => {
    const outcome = await probeSftp(embeddedTarget(peer.server), '/no/such/dir');
    expect(outcome).toEqual({
      ok: false,
      reason: 'PATH_MISSING',
      message: `base path /no/such/dir does not exist for user 'alice' at 127.0.0.1:${peer.server.port}`,
    });
  });

  test('a base path that is a file is PATH_MISSING', async () => {
    const outcome = await probeSftp(embeddedTarget(peer.server), '/inbox/keep.txt');
    expect(outcome).toMatchObject({ ok: false, reason: 'PATH_MISSING', message: expect.stringContaining('is not a directory') });
  });

  test('a base path the user may not access is PERMISSION_DENIED', async () => {
    // A link out of the jail: the embedded server answers PERMISSION_DENIED (whoever runs the tests, root included).
    const outside = path.join(tmp, `outside-${serverCount}`);
    await fs.mkdir(outside, { recursive: true });
    await fs.symlink(outside, path.join(peer.root, 'elsewhere'));
    const outcome = await probeSftp(embeddedTarget(peer.server), '/elsewhere');
    expect(outcome).toMatchObject({ ok: false, reason: 'PERMISSION_DENIED', message: expect.stringContaining('/elsewhere') });
  });

  test('a loopback host without an allow-list is HOST_NOT_ALLOWED', async () => {
    const outcome = await probeSftp(embeddedTarget(peer.server, { networkPolicy: { allowedCidrs: [] } }), '/inbox');
    expect(outcome).toMatchObject({ ok: false, reason: 'HOST_NOT_ALLOWED', message: expect.stringContaining('loopback') });
  });

  test('a name resolving to loopback without an allow-list is HOST_NOT_ALLOWED before any connection', async () => {
    const resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const target = embeddedTarget(peer.server, { host: 'sftp.partner.example', networkPolicy: { allowedCidrs: [] } });
    const outcome = await probeSftp(target, '/inbox', { resolver });
    expect(outcome).toEqual({
      ok: false,
      reason: 'HOST_NOT_ALLOWED',
      message:
        "host 'sftp.partner.example' resolves to a loopback address: the engine does not connect to such addresses unless the operator allows that network",
    });
  });

  test('a host that does not resolve is DNS_FAILURE', async () => {
    const outcome = await probeSftp(embeddedTarget(peer.server, { host: 'nowhere.invalid' }), '/inbox');
    expect(outcome).toMatchObject({ ok: false, reason: 'DNS_FAILURE', message: expect.stringContaining("'nowhere.invalid'") });
  });
});

describe('SFTP validation: connection failures', () => {
  test('a closed port is CONNECTION_REFUSED', async () => {
    const port = await freePort();
    const credentials = { password: PASSWORD };
    const target: SftpTarget = { host: '127.0.0.1', port, username: 'alice', credentials, networkPolicy: LOOPBACK };
    const outcome = await probeSftp({ ...target, hostKeyFingerprint: BOGUS_FINGERPRINT }, '/');
    expect(outcome).toEqual({
      ok: false,
      reason: 'CONNECTION_REFUSED',
      message: `connection refused by 127.0.0.1:${port}: check the port and that the SFTP server is running`,
    });
    expectNoSecrets(outcome, credentials);
  });

  test('a server that accepts TCP but never speaks SSH is TIMEOUT', async () => {
    const accepted = new Set<net.Socket>();
    const silent = net.createServer((socket) => accepted.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const target: SftpTarget = {
        host: '127.0.0.1',
        port,
        username: 'alice',
        credentials: { password: PASSWORD },
        hostKeyFingerprint: BOGUS_FINGERPRINT,
        networkPolicy: LOOPBACK,
        readyTimeoutMs: 300,
      };
      await expect(probeSftp(target, '/')).resolves.toMatchObject({
        ok: false,
        reason: 'TIMEOUT',
        message: expect.stringContaining(`127.0.0.1:${port} within 300 ms`),
      });
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('SFTP validation: server policies', () => {
  test.each<[string, Partial<SftpServerOptions>, object]>([
    [
      'a server that forbids rename',
      { forbidRename: true },
      { ...REFERENCE_CAPABILITIES, renameToNew: false, posixRename: false },
    ],
    [
      'a server whose RENAME replaces the target',
      { renameOverwrites: true },
      { ...REFERENCE_CAPABILITIES, renameOverExisting: true },
    ],
    ['a server without posix-rename', { posixRename: false }, { ...REFERENCE_CAPABILITIES, posixRename: false }],
    [
      'a server that lets one handle at a time write a file (Windows file sharing)',
      { oneWriterPerFile: true },
      { ...REFERENCE_CAPABILITIES, multiHandleWrite: false },
    ],
    [
      'a read-only server (validates: an INBOUND source may be read-only)',
      { readOnly: true },
      {
        ...REFERENCE_CAPABILITIES,
        write: false,
        renameToNew: false,
        renameOverExisting: false,
        posixRename: false,
        checkFile: false,
        multiHandleWrite: false,
      },
    ],
  ])('%s', async (_name, policy, capabilities) => {
    const peer = await startEmbedded(policy);
    try {
      await expect(probeSftp(embeddedTarget(peer.server), '/inbox')).resolves.toEqual({ ok: true, capabilities });
      expect(await filesIn(path.join(peer.root, 'inbox'))).toEqual(['keep.txt']);
    } finally {
      await peer.stop();
    }
  });
});

// ---------------------------------------------------------------------------
// OpenSSH

describe('SFTP validation against OpenSSH sshd', () => {
  let sshd: Sshd;
  let target: SftpTarget;
  beforeAll(async () => {
    sshd = await startSshd();
    await fs.writeFile(path.join(sshd.dataDir, 'keep.txt'), 'customer data');
    target = {
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      credentials: { privateKey: sshd.privateKey },
      hostKeyFingerprint: sshd.hostKeyFingerprint,
      networkPolicy: LOOPBACK,
      readyTimeoutMs: 5000,
    };
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  test('validates with the reference capabilities and leaves only the customer file', async () => {
    const outcome = await probeSftp(target, sshd.dataDir);
    expect(outcome).toEqual({
      ok: true,
      capabilities: REFERENCE_CAPABILITIES,
    });
    expect(await filesIn(sshd.dataDir)).toEqual(['keep.txt']);
  });

  test('openSftp reports the extensions OpenSSH advertises', async () => {
    const session = await openSftp(target);
    try {
      expect(Object.keys(session.supportedExtensions)).toEqual(
        expect.arrayContaining(['posix-rename@openssh.com', 'statvfs@openssh.com', 'hardlink@openssh.com', 'fsync@openssh.com']),
      );
    } finally {
      await session.close();
    }
  });

  test('a wrong key is AUTH_FAILED, without any line of the key', async () => {
    const credentials = { privateKey: STRANGER_KEY.private };
    const outcome = await probeSftp({ ...target, credentials }, sshd.dataDir);
    expect(outcome).toMatchObject({ ok: false, reason: 'AUTH_FAILED' });
    expectNoSecrets(outcome, credentials);
  });

  test('a password (not accepted by this server) is AUTH_FAILED, without the password', async () => {
    const credentials = { password: WRONG_PASSWORD };
    const outcome = await probeSftp({ ...target, credentials }, sshd.dataDir);
    expect(outcome).toMatchObject({ ok: false, reason: 'AUTH_FAILED' });
    expectNoSecrets(outcome, credentials);
  });

  test('a host key other than the pinned one is HOST_KEY_MISMATCH, reporting what was offered', async () => {
    const outcome = await probeSftp({ ...target, hostKeyFingerprint: BOGUS_FINGERPRINT }, sshd.dataDir);
    expect(outcome).toMatchObject({ ok: false, reason: 'HOST_KEY_MISMATCH', offeredHostKeyFingerprint: sshd.hostKeyFingerprint });
    expectNoSecrets(outcome, target.credentials);
  });

  test('without a pinned host key it is HOST_KEY_UNCONFIRMED, offering the server fingerprint', async () => {
    const outcome = await probeSftp({ ...target, hostKeyFingerprint: undefined }, sshd.dataDir);
    expect(outcome).toMatchObject({
      ok: false,
      reason: 'HOST_KEY_UNCONFIRMED',
      offeredHostKeyFingerprint: sshd.hostKeyFingerprint,
    });
    expectNoSecrets(outcome, target.credentials);
  });

  test('openSftp signs in with the endpoint key at once, not asking with "none" first (a round trip per connection)', async () => {
    // sshd's DEBUG1 log names the method of every authentication request it receives.
    const watched = await startSshd({ logLevel: 'DEBUG1' });
    try {
      const session = await openSftp({
        ...target,
        port: watched.port,
        username: watched.username,
        credentials: { privateKey: watched.privateKey },
        hostKeyFingerprint: watched.hostKeyFingerprint,
      });
      await session.close();
      const methods = [...watched.logs().matchAll(/userauth-request for user \S+ service \S+ method (\S+)/g)].map((m) => m[1]);
      expect(methods).toEqual(['publickey', 'publickey']); // the key offered, then signed: OpenSSH's own two steps
    } finally {
      await watched.stop();
    }
  });

  test('a missing base path is PATH_MISSING', async () => {
    const missing = path.join(sshd.dataDir, 'nope');
    await expect(probeSftp(target, missing)).resolves.toMatchObject({
      ok: false,
      reason: 'PATH_MISSING',
      message: expect.stringContaining(`base path ${missing} does not exist`),
    });
  });
});

// ---------------------------------------------------------------------------
// S3

describe('S3 validation against the local emulator', () => {
  /** The account that owns the bucket 'landing'. */
  const OWNER = '111111111111';
  let s3server: LocalS3;
  let s3: S3Client;
  beforeAll(async () => {
    s3server = await startS3({ directory: path.join(tmp, 's3'), buckets: [{ name: 'landing', owner: OWNER }] });
    s3 = localS3Client(s3server.endpoint);
  });
  afterAll(async () => {
    s3?.destroy();
    await s3server?.close();
  });

  const objectsInLanding = async () =>
    (await s3.send(new ListObjectsV2Command({ Bucket: 'landing', ExpectedBucketOwner: OWNER }))).Contents ?? [];

  test('an existing bucket validates and the probe object is gone afterwards', async () => {
    await expect(probeS3(s3, { bucket: 'landing', prefix: 'in/', bucketOwner: OWNER })).resolves.toEqual({ ok: true });
    await expect(probeS3(s3, { bucket: 'landing', prefix: 'no-slash', bucketOwner: OWNER })).resolves.toEqual({ ok: true });
    expect(await objectsInLanding()).toEqual([]);
  });

  test('a bucket of another account is BUCKET_NOT_OWNED, and the probe writes nothing there', async () => {
    const outcome = await probeS3(s3, { bucket: 'landing', prefix: 'in/', bucketOwner: '222222222222' });
    expect(outcome).toMatchObject({ ok: false, reason: 'BUCKET_NOT_OWNED' });
    expect(outcome.ok || outcome.message).toMatch(/account 222222222222 does not own it/);
    expect(await objectsInLanding()).toEqual([]);
  });

  test('an endpoint that names no owner is BUCKET_OWNER_UNKNOWN, and nothing is sent', async () => {
    await expect(probeS3(s3, { bucket: 'landing', prefix: 'in/' })).resolves.toMatchObject({
      ok: false,
      reason: 'BUCKET_OWNER_UNKNOWN',
    });
  });

  test('a missing bucket is BUCKET_MISSING', async () => {
    await expect(probeS3(s3, { bucket: 'no-such-bucket', prefix: '', bucketOwner: OWNER })).resolves.toEqual({
      ok: false,
      reason: 'BUCKET_MISSING',
      message: "bucket 'no-such-bucket' does not exist",
    });
  });
});
