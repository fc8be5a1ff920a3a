/**
 * The SFTP session over an OpenSSH `ssh -s sftp` child (EFT_SFTP_TRANSPORT=openssh,
 * core/adapters/sftp/openssh-transport.ts) against OpenSSH's sshd (key auth)
 * and the embedded server (password auth, encrypted key): the worker's
 * pipelined streams download and upload over it, a wrong or missing pin is
 * refused before authentication, the SSRF guard holds, and no secret reaches
 * ssh's command line, its environment or its folder once the session is up.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { SftpSession, SftpTarget } from '../../core/adapters/sftp/connect';
import { sftpOpenerFromEnv } from '../../core/adapters/sftp/openssh-select';
import { openSftpOverSsh } from '../../core/adapters/sftp/openssh-transport';
import { maxReadLength } from '../../core/adapters/sftp/transfer/channel';
import { SftpReadStream } from '../../core/adapters/sftp/transfer/read-stream';
import { SftpWriteStream } from '../../core/adapters/sftp/transfer/write-stream';
import { type EmbeddedSftpServer, sshKeyFingerprint, startSftpServer } from '../../local/sftp-server';
import { type Sshd, startSshd } from '../support/sshd';

// ssh and sshd processes on a busy 2-core machine: seconds, not milliseconds.
jest.setTimeout(60_000);

const LOOPBACK = { allowedCidrs: ['127.0.0.0/8'] };
const PASSWORD = 'openssh-transport-password';
const PASSPHRASE = 'openssh-transport-passphrase';
const BOGUS_FINGERPRINT = sshKeyFingerprint(Buffer.from('not a host key'));
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let tmp: string;
let sshd: Sshd;
let embedded: EmbeddedSftpServer;
let embeddedRoot: string;
let encryptedKey: string;
/** Records ssh's argv and environment, then runs the real ssh: what `ps` or /proc would show of it. */
let recordingSsh: string;
let recorded: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'eft-openssh-transport-'));
  embeddedRoot = path.join(tmp, 'root');
  await fs.mkdir(embeddedRoot);
  const keyPath = path.join(tmp, 'encrypted');
  await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-f', keyPath]);
  encryptedKey = await fs.readFile(keyPath, 'utf8');
  const publicKey = await fs.readFile(`${keyPath}.pub`, 'utf8');
  recorded = path.join(tmp, 'recorded');
  recordingSsh = path.join(tmp, 'recording-ssh');
  await fs.writeFile(recordingSsh, `#!/bin/sh\n{ printf '%s\\n' "$@"; env; } >> '${recorded}'\nexec ssh "$@"\n`, { mode: 0o700 });
  [sshd, embedded] = await Promise.all([
    startSshd(),
    startSftpServer({
      root: embeddedRoot,
      users: [
        { username: 'partner', password: PASSWORD },
        { username: 'keyholder', publicKey },
      ],
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([sshd?.stop(), embedded?.close()]);
  await fs.rm(tmp, { recursive: true, force: true });
});

function sshdTarget(overrides: Partial<SftpTarget> = {}): SftpTarget {
  return {
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    credentials: { privateKey: sshd.privateKey },
    hostKeyFingerprint: sshd.hostKeyFingerprint,
    networkPolicy: LOOPBACK,
    readyTimeoutMs: 20_000,
    ...overrides,
  };
}

function embeddedTarget(overrides: Partial<SftpTarget> = {}): SftpTarget {
  return {
    host: embedded.host,
    port: embedded.port,
    username: 'partner',
    credentials: { password: PASSWORD },
    hostKeyFingerprint: embedded.hostKeyFingerprint,
    networkPolicy: LOOPBACK,
    readyTimeoutMs: 20_000,
    ...overrides,
  };
}

async function download(session: SftpSession, remote: string, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    new SftpReadStream(session.sftp, remote, { size, where: 'test' }),
    new Writable({
      write(chunk: Buffer, _e, cb) {
        chunks.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(chunks);
}

async function upload(session: SftpSession, remote: string, content: Buffer): Promise<void> {
  const pieces = Array.from({ length: Math.ceil(content.length / 50_000) }, (_, i) =>
    content.subarray(i * 50_000, (i + 1) * 50_000),
  );
  await pipeline(Readable.from(pieces), new SftpWriteStream(session.sftp, remote, { fsync: true, where: 'test' }));
}

describe('SFTP over OpenSSH ssh against sshd (key auth)', () => {
  let session: SftpSession;
  beforeAll(async () => {
    session = await openSftpOverSsh(sshdTarget());
  });
  afterAll(async () => {
    await session?.close();
  });

  test('the session is pinned, on the vetted address, with the policy’s algorithms and 255 KiB requests', () => {
    expect(session.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
    expect(session.address).toBe('127.0.0.1');
    expect(session.negotiated).toEqual({
      kex: 'ecdh-sha2-nistp256',
      cipher: 'aes128-gcm@openssh.com',
      mac: '',
      serverHostKey: 'ecdsa-sha2-nistp256',
    });
    expect(session.supportedExtensions['limits@openssh.com']).toBe('1');
    expect(maxReadLength(session.sftp)).toBe(261_120);
  });

  test('the worker’s pipelined streams download and upload byte for byte', async () => {
    const content = randomBytes(6 * 1024 * 1024 + 13);
    await fs.writeFile(path.join(sshd.dataDir, 'down.bin'), content);
    const got = await download(session, path.posix.join(sshd.dataDir, 'down.bin'), content.length);
    expect(sha(got)).toBe(sha(content));

    await upload(session, path.posix.join(sshd.dataDir, 'up.bin'), content);
    expect(sha(await fs.readFile(path.join(sshd.dataDir, 'up.bin')))).toBe(sha(content));
  });

  test('ssh2-sftp-client calls work on the session (stat, list)', async () => {
    await fs.writeFile(path.join(sshd.dataDir, 'listed.txt'), 'x');
    await expect(session.client.stat(path.posix.join(sshd.dataDir, 'listed.txt'))).resolves.toMatchObject({ size: 1 });
    const names = (await session.client.list(sshd.dataDir)).map((entry) => entry.name);
    expect(names).toContain('listed.txt');
  });
});

describe('SFTP over OpenSSH ssh: refusals', () => {
  test('a host key other than the pinned one is refused as HOST_KEY_MISMATCH, naming the offered key', async () => {
    await expect(openSftpOverSsh(sshdTarget({ hostKeyFingerprint: BOGUS_FINGERPRINT }))).rejects.toMatchObject({
      code: 'HOST_KEY_MISMATCH',
      offeredFingerprint: sshd.hostKeyFingerprint,
      pinnedFingerprint: BOGUS_FINGERPRINT,
    });
  });

  test('without a pinned key nothing is trusted: HOST_KEY_UNCONFIRMED with the offered fingerprint', async () => {
    await expect(openSftpOverSsh(sshdTarget({ hostKeyFingerprint: undefined }))).rejects.toMatchObject({
      code: 'HOST_KEY_UNCONFIRMED',
      offeredFingerprint: sshd.hostKeyFingerprint,
    });
  });

  test('the SSRF guard refuses a host outside the allowed networks before ssh runs', async () => {
    await fs.rm(recorded, { force: true });
    await expect(
      openSftpOverSsh(sshdTarget({ networkPolicy: { allowedCidrs: [] } }), { sshPath: recordingSsh }),
    ).rejects.toMatchObject({ code: 'HOST_NOT_ALLOWED' });
    await expect(fs.stat(recorded)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('without an ssh client the session fails as CONNECTION_FAILED, saying so', async () => {
    await expect(openSftpOverSsh(sshdTarget(), { sshPath: path.join(tmp, 'no-such-ssh') })).rejects.toMatchObject({
      code: 'CONNECTION_FAILED',
      message: 'could not run the OpenSSH client for the SFTP transport (ENOENT)',
    });
  });

  test('a key the server does not accept is AUTH_FAILED', async () => {
    await expect(
      openSftpOverSsh(sshdTarget({ credentials: { privateKey: encryptedKey, passphrase: PASSPHRASE } })),
    ).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
  });

  test('a partner with no algorithm of the policy is NO_COMMON_ALGORITHM, naming its offer', async () => {
    const modernOnly = await startSshd({ hostKeyType: 'ed25519', algorithms: { HostKeyAlgorithms: 'ssh-ed25519' } });
    try {
      await expect(
        openSftpOverSsh({ ...sshdTarget(), port: modernOnly.port, hostKeyFingerprint: modernOnly.hostKeyFingerprint }),
      ).rejects.toMatchObject({ code: 'NO_COMMON_ALGORITHM', algorithmClass: 'serverHostKey', offered: ['ssh-ed25519'] });
    } finally {
      await modernOnly.stop();
    }
  });
});

describe('SFTP over OpenSSH ssh against the embedded server (password, encrypted key)', () => {
  test('password auth: the password reaches ssh only through askpass, never argv or environment', async () => {
    await fs.rm(recorded, { force: true });
    const session = await openSftpOverSsh(embeddedTarget(), { sshPath: recordingSsh });
    try {
      const content = randomBytes(1024 * 1024 + 5);
      await upload(session, '/pw.bin', content);
      expect(sha(await fs.readFile(path.join(embeddedRoot, 'pw.bin')))).toBe(sha(content));
      expect(sha(await download(session, '/pw.bin', content.length))).toBe(sha(content));
    } finally {
      await session.close();
    }
    const seen = await fs.readFile(recorded, 'utf8');
    expect(seen).toContain('SSH_ASKPASS_REQUIRE=force');
    expect(seen).toContain(`KnownHostsCommand=`);
    expect(seen).not.toContain(PASSWORD);
  });

  test('a wrong password is AUTH_FAILED, without the password in the message', async () => {
    const attempt = openSftpOverSsh(embeddedTarget({ credentials: { password: 'wrong-password-123' } }));
    await expect(attempt).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await expect(attempt).rejects.toThrow(/^(?!.*wrong-password-123)/s);
  });

  test('an encrypted private key: the passphrase through askpass, the key file gone once the session is up', async () => {
    await fs.rm(recorded, { force: true });
    const session = await openSftpOverSsh(
      embeddedTarget({ username: 'keyholder', credentials: { privateKey: encryptedKey, passphrase: PASSPHRASE } }),
      { sshPath: recordingSsh },
    );
    try {
      const seen = await fs.readFile(recorded, 'utf8');
      expect(seen).not.toContain(PASSPHRASE);
      const identity = /IdentityFile=(\S+)/.exec(seen)?.[1] ?? '';
      expect(identity).toMatch(/eft-ssh-/);
      await expect(fs.stat(identity)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(session.client.stat('/')).resolves.toMatchObject({ isDirectory: true });
    } finally {
      await session.close();
    }
  });

  test('EFT_SFTP_TRANSPORT=openssh selects this transport; unset keeps ssh2; anything else is refused', async () => {
    const session = await sftpOpenerFromEnv({ EFT_SFTP_TRANSPORT: 'openssh' })(embeddedTarget());
    try {
      // Only the pipe transport opens no more channels (ssh2's opens them on its connection).
      await expect(session.openChannels(1)).resolves.toEqual([]);
    } finally {
      await session.close();
    }
    const viaSsh2 = await sftpOpenerFromEnv({})(embeddedTarget());
    try {
      await expect(viaSsh2.openChannels(1)).resolves.toHaveLength(1);
    } finally {
      await viaSsh2.close();
    }
    expect(() => sftpOpenerFromEnv({ EFT_SFTP_TRANSPORT: 'putty' })).toThrow(/ssh2 \(the default\) or openssh/);
  });
});
