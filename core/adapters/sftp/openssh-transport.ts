/**
 * EVALUATION (issue 18, not the default): an SFTP session whose SSH layer —
 * key exchange, cipher, MAC, windows — runs in an OpenSSH `ssh` child process,
 * while SFTP itself stays in this process: ssh2's own SFTP protocol object,
 * driven over ssh's stdin/stdout instead of an ssh2 channel, so the worker's
 * pipelined SftpReadStream/SftpWriteStream run on it unchanged. Chosen with
 * EFT_SFTP_TRANSPORT=openssh (openssh-select.ts); the measurements and the
 * trade-offs: docs/benchmarks.md, "round two: SFTP over OpenSSH's ssh".
 *
 * What openSftp guarantees holds here too:
 * - SSRF guard: the host is vetted as for openSftp and ssh gets the vetted IP
 *   address, never the name (HostKeyAlias names the key; no DNS by ssh);
 * - host-key pinning: ssh's only source of known keys is a KnownHostsCommand
 *   that answers with the offered key only if its SHA256 fingerprint is the
 *   pinned one (StrictHostKeyChecking=yes, no known_hosts files). ssh still
 *   checks the server's signature with that key, so this is exactly a pin of
 *   the fingerprint. The offered fingerprint is written to the session's
 *   private folder, to report it as openSftp does;
 * - only the algorithms of the endpoint's SSH security policy are offered
 *   (-o KexAlgorithms/Ciphers/MACs/HostKeyAlgorithms);
 * - secrets never in argv or the environment: a private key goes to a 0600
 *   file in a 0700 folder, deleted once the session is up; a password or
 *   passphrase is answered by an SSH_ASKPASS helper that asks this process
 *   over a unix socket in that folder (never written to disk);
 * - `-F /dev/null` and HOME in the private folder: no system or user ssh
 *   configuration, agent, default identity or known_hosts applies.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SFTPWrapper } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import {
  AuthenticationFailedError,
  ConnectionFailedError,
  ConnectionRefusedError,
  ConnectionTimeoutError,
  DnsFailureError,
  HostKeyMismatchError,
  HostKeyUnconfirmedError,
  NoCommonAlgorithmError,
  type SshAlgorithmClass,
} from '../../domain/connectivity-errors';
import type { NegotiatedAlgorithms } from '../../domain/endpoint';
import { SSH_SECURITY_POLICIES, securityPolicyOf } from '../../domain/ssh-security-policies';
import { vetHost } from '../net/network-policy';
import { DEFAULT_READY_TIMEOUT_MS, type OpenSftpOptions, type SftpSession, type SftpTarget, scrubSecrets } from './connect';
import { openSshArgs, parseSshLog } from './openssh-args';

// ssh2 exports its SFTP protocol object only from its internals.
// biome-ignore lint/suspicious/noExplicitAny: untyped internal module of ssh2
const { SFTP } = require('ssh2/lib/protocol/SFTP.js') as { SFTP: new (client: any, chanInfo: any, cfg: any) => any };

const CLOSE_TIMEOUT_MS = 2_000;
/** The name ssh files the pinned key under (HostKeyAlias): the same for every session, it only links key and check. */
const HOST_KEY_ALIAS = 'eft-endpoint';
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export interface OpenSshOptions extends OpenSftpOptions {
  /** The ssh client to run. Default: `ssh` on the PATH (Debian's openssh-client in the worker image). */
  sshPath?: string;
}

function normalizeFingerprint(fingerprint: string): string {
  const trimmed = fingerprint.trim().replace(/=+$/, '');
  return /^sha256:/i.test(trimmed) ? `SHA256:${trimmed.slice(7)}` : trimmed;
}

/** Answers ssh's askpass helper: the passphrase when it asks for one, else the password; at most `limit` answers. */
function askpassServer(path: string, target: SftpTarget, limit: number): Promise<Server> {
  let answered = 0;
  const server = createServer((socket) => {
    let prompt = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      prompt += chunk;
      if (!prompt.includes('\n')) return;
      const { password, passphrase } = target.credentials;
      const answer = /passphrase/i.test(prompt) ? passphrase : password;
      // Nothing to say (or asked too often): an empty answer makes ssh give up on that method.
      socket.end(answer !== undefined && answered++ < limit ? answer : '');
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/** The askpass helper: runs under this Node, sends ssh's prompt to the socket, prints the answer for ssh. */
function askpassScript(socketPath: string): string {
  return `#!${process.execPath}
const s = require('node:net').connect(${JSON.stringify(socketPath)});
let out = '';
s.setEncoding('utf8');
s.on('connect', () => s.write(String(process.argv[2] ?? '').replace(/\\n/g, ' ') + '\\n'));
s.on('data', (d) => { out += d; });
s.on('end', () => { process.stdout.write(out + '\\n'); process.exitCode = out ? 0 : 1; });
s.on('error', () => { process.exitCode = 1; });
`;
}

/**
 * A stand-in for ssh2's Client and channel, as far as its SFTP object uses
 * them: outgoing packets go to ssh's stdin, and SSH windows are ssh's business
 * (the outgoing window is unbounded here; the streams' own request windows
 * bound what is in flight).
 */
function sftpOverPipes(ssh: ChildProcessWithoutNullStreams): SFTPWrapper {
  const protocol = {
    // Claims OpenSSH so ssh2 asks for limits@openssh.com; servers that do not advertise it get ssh2's defaults.
    _remoteIdentRaw: 'SSH-2.0-OpenSSH_eft-pipe',
    channelData: (_id: number, data: Buffer) => ssh.stdin.write(data),
    channelClose: () => ssh.stdin.end(),
    channelEOF: () => ssh.stdin.end(),
    channelWindowAdjust: () => {},
  };
  const infinite = Number.MAX_SAFE_INTEGER;
  const sftp = new SFTP(
    { _protocol: protocol },
    {
      type: 'session',
      incoming: { id: 0, window: infinite, packetSize: infinite, state: 'open' },
      outgoing: { id: 0, window: infinite, packetSize: infinite, state: 'open' },
    },
    {},
  );
  ssh.stdout.on('data', (data: Buffer) => sftp.push(data));
  ssh.stdout.on('end', () => {
    sftp.outgoing.state = 'closed';
    sftp.push(null);
    sftp.emit('close');
  });
  ssh.stdin.on('error', () => {});
  return sftp as SFTPWrapper;
}

async function measureRoundTrip(sftp: SFTPWrapper): Promise<number> {
  let shortest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => sftp.realpath('.', (err) => (err ? reject(err) : resolve())));
    shortest = Math.min(shortest, performance.now() - started);
  }
  return shortest;
}

const CLASS_NAMES: Record<SshAlgorithmClass, string> = {
  kex: 'key exchange',
  serverHostKey: 'host key',
  cipher: 'cipher',
  mac: 'MAC',
};

/** ssh's failure, from its log on stderr (ssh exits 255 for every one of them). */
function classify(log: string, offered: string | undefined, target: SftpTarget, timedOut: boolean): Error {
  const where = `${target.host}:${target.port}`;
  const parsed = parseSshLog(log);
  if (parsed.noMatch) {
    const { algorithmClass, offer } = parsed.noMatch;
    const policy = securityPolicyOf(target);
    return new NoCommonAlgorithmError(
      algorithmClass,
      offer,
      `${where} supports no ${CLASS_NAMES[algorithmClass]} algorithm of security policy ${policy} (${SSH_SECURITY_POLICIES[policy].algorithms[algorithmClass].join(', ')}); it offers ${offer.join(', ')}: ask the partner to enable one, or choose a wider policy`,
    );
  }
  if (parsed.hostKeyRefused && offered) {
    if (target.hostKeyFingerprint) {
      const pinned = normalizeFingerprint(target.hostKeyFingerprint);
      return new HostKeyMismatchError(
        offered,
        pinned,
        `host key ${offered} offered by ${where} does not match the pinned ${pinned}; if the partner changed its key, confirm the new fingerprint with them and update the endpoint`,
      );
    }
    return new HostKeyUnconfirmedError(
      offered,
      `no host key is pinned for ${where}; the server offered ${offered}: confirm it with the partner and pin it on the endpoint`,
    );
  }
  if (parsed.authFailed) {
    const what = target.credentials.privateKey ? 'user name and private key' : 'user name and password';
    return new AuthenticationFailedError(`authentication failed for user '${target.username}' at ${where}: check the ${what}`);
  }
  if (timedOut || parsed.timedOut) {
    return new ConnectionTimeoutError(
      `no SSH session with ${where} within ${target.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS} ms: check the host, the port and that the partner's firewall allows the engine's addresses`,
    );
  }
  if (parsed.refused) {
    return new ConnectionRefusedError(`connection refused by ${where}: check the port and that the SFTP server is running`);
  }
  if (parsed.unreachable) {
    return new ConnectionRefusedError(`${where} is unreachable from the engine's network: check the host and routing`);
  }
  if (parsed.closed) {
    return new ConnectionRefusedError(
      `${where} closed the connection before the SSH session was set up: check that it is an SFTP server and that its firewall allows the engine's addresses`,
    );
  }
  const detail = parsed.lastError ? `: ${scrubSecrets(parsed.lastError, target.credentials)}` : '';
  return new ConnectionFailedError(`could not set up an SFTP session with ${where}${detail}`);
}

function waitForExit(ssh: ChildProcessWithoutNullStreams, ms: number): Promise<void> {
  if (ssh.exitCode !== null || ssh.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ssh.kill('SIGKILL');
    }, ms);
    ssh.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Opens an SFTP session to `target` through an OpenSSH `ssh -s sftp` child, or throws a ConnectivityError. */
export async function openSftpOverSsh(target: SftpTarget, options: OpenSshOptions = {}): Promise<SftpSession> {
  const { password, privateKey, passphrase } = target.credentials;
  if (!password && !privateKey) {
    throw new AuthenticationFailedError(`no password or private key is configured for user '${target.username}'`);
  }
  const readyTimeout = target.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const deadline = Date.now() + readyTimeout;
  let dnsTimer: NodeJS.Timeout | undefined;
  const address = await Promise.race([
    vetHost(target.host, target.networkPolicy, options.resolver),
    new Promise<never>((_, reject) => {
      dnsTimer = setTimeout(
        () => reject(new DnsFailureError(target.host, `could not resolve host '${target.host}': the DNS lookup timed out`)),
        readyTimeout,
      );
    }),
  ]).finally(() => clearTimeout(dnsTimer));
  // Only a well-formed pin reaches ssh's command line; anything else pins nothing (and is refused, reporting the offer).
  const pinned =
    target.hostKeyFingerprint && FINGERPRINT.test(normalizeFingerprint(target.hostKeyFingerprint))
      ? normalizeFingerprint(target.hostKeyFingerprint)
      : undefined;

  const dir = await mkdtemp(join(tmpdir(), 'eft-ssh-'));
  await chmod(dir, 0o700);
  const identityPath = join(dir, 'id');
  const offeredPath = join(dir, 'offered');
  const askpassPath = join(dir, 'askpass');
  let askpass: Server | undefined;
  let ssh: ChildProcessWithoutNullStreams | undefined;
  const cleanup = async () => {
    askpass?.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    if (privateKey) await writeFile(identityPath, privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`, { mode: 0o600 });
    if (password !== undefined || passphrase !== undefined) {
      askpass = await askpassServer(join(dir, 'askpass.sock'), target, 2);
      await writeFile(askpassPath, askpassScript(join(dir, 'askpass.sock')), { mode: 0o700 });
    }
    const args = openSshArgs({
      address,
      port: target.port,
      username: target.username,
      hostKeyAlias: HOST_KEY_ALIAS,
      pinnedFingerprint: pinned,
      offeredPath,
      identityPath: privateKey ? identityPath : undefined,
      password: password !== undefined,
      interactive: askpass !== undefined,
      algorithms: SSH_SECURITY_POLICIES[securityPolicyOf(target)].algorithms,
      connectTimeoutSeconds: Math.max(1, Math.ceil((deadline - Date.now()) / 1000)),
    });
    const child = spawn(options.sshPath ?? 'ssh', args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        ...(askpass ? { SSH_ASKPASS: askpassPath, SSH_ASKPASS_REQUIRE: 'force' } : {}),
      },
    });
    ssh = child;
    let log = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      // The handshake's log is what error mapping and `negotiated` need; bounded, the rest is dropped.
      if (log.length < 64 * 1024) log += chunk;
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => {});
    const sftp = sftpOverPipes(child);
    let timedOut = false;
    let spawnError: NodeJS.ErrnoException | undefined;
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(
        () => {
          timedOut = true;
          resolve(false);
        },
        Math.max(0, deadline - Date.now()),
      );
      sftp.once('ready', () => {
        clearTimeout(timer);
        resolve(true);
      });
      // ssh ends (or never starts): no session.
      void exited.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
      child.once('error', (err: NodeJS.ErrnoException) => {
        spawnError = err;
        clearTimeout(timer);
        resolve(false);
      });
      (sftp as unknown as { _init(): void })._init();
    });
    if (!ready) {
      child.kill('SIGTERM');
      await waitForExit(child, CLOSE_TIMEOUT_MS);
      let offered: string | undefined;
      try {
        offered = readFileSync(offeredPath, 'utf8').trim() || undefined;
      } catch {}
      if (spawnError) {
        // The engine's own setup, not the partner: no ssh client installed (e.g. in Lambda).
        throw new ConnectionFailedError(
          `could not run the OpenSSH client for the SFTP transport (${spawnError.code ?? spawnError.message})`,
        );
      }
      throw classify(log, offered, target, timedOut);
    }
    // ssh has read the key and authenticated: no secret is left on disk or on offer.
    if (privateKey) await unlink(identityPath).catch(() => {});
    askpass?.close();
    askpass = undefined;
    sftp.on('error', () => {});
    const parsed = parseSshLog(log);
    const client = new SftpClient('eft', { error: () => {}, end: () => {}, close: () => {} });
    // ssh2-sftp-client's methods use only its `sftp` once connected.
    (client as unknown as { sftp: SFTPWrapper }).sftp = sftp;
    let roundTrip: Promise<number> | undefined;
    let closing: Promise<void> | undefined;
    return {
      client,
      sftp,
      supportedExtensions: Object.freeze({
        ...((sftp as unknown as { _extensions?: Record<string, string> })._extensions ?? {}),
      }),
      hostKeyFingerprint: pinned ?? '',
      address,
      negotiated: parsed.negotiated as NegotiatedAlgorithms,
      // One SSH channel per ssh process: more would need ssh's connection multiplexing (not evaluated).
      openChannels: async () => [],
      roundTripMs: () => {
        roundTrip ??= measureRoundTrip(sftp);
        return roundTrip;
      },
      // Once per session (each call would add an 'exit' listener to the child until it exits; see connect.ts).
      close: () => {
        closing ??= (async () => {
          child.stdin.end();
          await waitForExit(child, CLOSE_TIMEOUT_MS);
          await cleanup();
        })();
        return closing;
      },
    };
  } catch (err) {
    if (ssh) {
      ssh.kill('SIGKILL');
      await waitForExit(ssh, CLOSE_TIMEOUT_MS);
    }
    await cleanup();
    throw err;
  }
}
