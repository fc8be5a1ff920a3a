/**
 * A private OpenSSH sshd for tests: the reference SFTP peer that the embedded
 * server and the engine are checked against. It runs in the foreground on
 * 127.0.0.1 with its own host key (ECDSA, unless a test asks for ed25519), config and authorized_keys in a temp dir,
 * serves only SFTP (internal-sftp) and lets the current user in by key only.
 *
 * No chroot (ChrootDirectory needs a root-owned path chain); tests use
 * absolute paths under `dataDir` instead.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const SSHD = '/usr/sbin/sshd';
/** Only bounds a failure: a healthy sshd says it listens within milliseconds, even on a busy machine. */
const READY_TIMEOUT_MS = 20_000;
/** Levels below VERBOSE do not log "Server listening". */
const QUIETER_THAN_VERBOSE = new Set(['QUIET', 'FATAL', 'ERROR', 'INFO']);

export interface SshdOptions {
  /** Directory for test files; default `<tempdir>/data`. Not removed by stop() if given. */
  dataDir?: string;
  /**
   * sshd LogLevel; default VERBOSE, the least that reports "Server listening on …", which
   * startSshd waits for (a lower level is raised to it). Use DEBUG1… when a test needs the server's view.
   */
  logLevel?: string;
  /**
   * The host key's type: default ecdsa (nistp256), which every SSH security
   * policy accepts; ed25519 for a peer that only the non-FIPS policies reach.
   */
  hostKeyType?: 'ecdsa' | 'ed25519';
  /**
   * What sshd offers, as sshd_config lines (OpenSSH's names and lists), e.g.
   * `{ KexAlgorithms: 'curve25519-sha256' }`; unset ones keep OpenSSH's defaults.
   */
  algorithms?: Partial<Record<'KexAlgorithms' | 'Ciphers' | 'MACs' | 'HostKeyAlgorithms', string>>;
}

/** An OpenSSH peer offering only algorithms outside FIPS-2024 (Curve25519, ChaCha20-Poly1305, Ed25519, ETM MAC). */
export const NON_FIPS_SSHD: SshdOptions = {
  hostKeyType: 'ed25519',
  algorithms: {
    KexAlgorithms: 'curve25519-sha256',
    Ciphers: 'chacha20-poly1305@openssh.com',
    MACs: 'hmac-sha2-256-etm@openssh.com',
    HostKeyAlgorithms: 'ssh-ed25519',
  },
};

export interface Sshd {
  host: string;
  port: number;
  /** The current OS user: a non-root sshd can only log in the user it runs as. */
  username: string;
  /** OpenSSH-format ed25519 private key, accepted via authorized_keys. */
  privateKey: string;
  /** Path of that private key, for command-line clients (`ssh -i`, `sftp -i`). */
  privateKeyPath: string;
  /** "SHA256:…" of the host key, as OpenSSH prints it. */
  hostKeyFingerprint: string;
  /** Absolute path where tests read and write files. */
  dataDir: string;
  /** What sshd wrote to stderr so far, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

const execFileAsync = promisify(execFile);

async function keygen(file: string, type: 'ecdsa' | 'ed25519' = 'ed25519'): Promise<void> {
  const bits = type === 'ecdsa' ? ['-b', '256'] : [];
  await execFileAsync('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-C', 'eft-test', '-f', file]);
}

/** A port that was free a moment ago. sshd may still lose a race for it; startSshd retries. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function fingerprintOfPublicKeyLine(line: string): string {
  const blob = Buffer.from(line.trim().split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function sshdConfig(
  dir: string,
  port: number,
  username: string,
  logLevel: string,
  hostKeyPath: string,
  algorithms: SshdOptions['algorithms'] = {},
): string {
  return `${[
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKeyPath}`,
    ...Object.entries(algorithms).map(([option, list]) => `${option} ${list}`),
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    // No PAM: it would want a real login stack. Without it, sshd refuses
    // accounts whose password field starts with "!" (locked); "*" is fine.
    'UsePAM no',
    // The temp dir and key files are not laid out the way StrictModes demands.
    'StrictModes no',
    // CI runs as root; key-only root login is what prohibit-password allows.
    'PermitRootLogin prohibit-password',
    `AllowUsers ${username}`,
    // SFTP only, like a partner's server: no shells, no forwarding.
    'Subsystem sftp internal-sftp',
    'ForceCommand internal-sftp',
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'X11Forwarding no',
    'PermitTTY no',
    'MaxStartups 100',
    'MaxSessions 100',
    `LogLevel ${logLevel}`,
  ].join('\n')}\n`;
}

/**
 * Resolves when sshd reports that it listens on `port` (after listen(), so
 * connections are accepted from then on); rejects if it exits first, or says
 * nothing of the kind within READY_TIMEOUT_MS.
 */
async function untilListening(
  port: number,
  child: ChildProcess,
  stderr: NodeJS.ReadableStream,
  logs: () => string,
): Promise<void> {
  const listening = `Server listening on 127.0.0.1 port ${port}.`;
  let onData: () => void = () => undefined;
  let onExit: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      onData = () => {
        if (logs().includes(listening)) resolve();
      };
      onExit = () => reject(new Error(`sshd exited before listening:\n${logs()}`));
      stderr.on('data', onData);
      child.once('exit', onExit);
      timer = setTimeout(
        () => reject(new Error(`sshd did not report listening on ${port} within ${READY_TIMEOUT_MS} ms:\n${logs()}`)),
        READY_TIMEOUT_MS,
      );
      if (child.exitCode !== null || child.signalCode !== null) onExit();
      onData();
    });
  } finally {
    clearTimeout(timer);
    stderr.off('data', onData);
    child.off('exit', onExit);
  }
}

/** SIGTERM, then SIGKILL after 2 s, and wait for the exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const force = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(force);
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  await fs.access(SSHD).catch(() => {
    throw new Error(`${SSHD} not found: run scripts/ensure-test-tools.sh (Debian packages openssh-server, openssh-client)`);
  });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'eft-sshd-'));
  try {
    const username = os.userInfo().username;
    const hostKeyType = options.hostKeyType ?? 'ecdsa';
    const hostKeyPath = path.join(dir, `host_${hostKeyType}_key`);
    const clientKeyPath = path.join(dir, 'client_ed25519_key');
    await Promise.all([keygen(hostKeyPath, hostKeyType), keygen(clientKeyPath)]);
    await fs.copyFile(`${clientKeyPath}.pub`, path.join(dir, 'authorized_keys'));
    const dataDir = options.dataDir ?? path.join(dir, 'data');
    await fs.mkdir(dataDir, { recursive: true });
    // Privilege separation directory; the Debian init script usually makes it.
    if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

    const [privateKey, hostPublicKey] = await Promise.all([
      fs.readFile(clientKeyPath, 'utf8'),
      fs.readFile(`${hostKeyPath}.pub`, 'utf8'),
    ]);

    // The free port can be taken between probing and sshd binding it; retry.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const configPath = path.join(dir, 'sshd_config');
      const logLevel =
        options.logLevel && !QUIETER_THAN_VERBOSE.has(options.logLevel.toUpperCase()) ? options.logLevel : 'VERBOSE';
      await fs.writeFile(configPath, sshdConfig(dir, port, username, logLevel, hostKeyPath, options.algorithms));

      let stderr = '';
      const logs = () => stderr;
      // -D: stay in the foreground, -e: log to stderr.
      const child = spawn(SSHD, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      const output = child.stderr as NodeJS.ReadableStream;
      output.setEncoding('utf8');
      output.on('data', (s: string) => {
        stderr += s;
      });
      const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
      spawnError.catch(() => undefined); // only interesting during startup
      try {
        await Promise.race([untilListening(port, child, output, logs), spawnError]);
      } catch (err) {
        await stopChild(child);
        if (attempt < 3 && /Address already in use|Cannot bind/i.test(stderr)) continue;
        throw err;
      }

      return {
        host: '127.0.0.1',
        port,
        username,
        privateKey,
        privateKeyPath: clientKeyPath,
        hostKeyFingerprint: fingerprintOfPublicKeyLine(hostPublicKey),
        dataDir,
        logs,
        stop: async () => {
          await stopChild(child);
          await fs.rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}
