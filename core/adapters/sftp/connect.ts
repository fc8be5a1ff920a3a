/**
 * The one way the engine opens SFTP sessions (endpoint validation now, the
 * Fargate transfer worker later). In order:
 *
 * 1. the host goes through the SSRF guard, and the socket connects to the
 *    vetted address, never to the name again (no DNS-rebinding window);
 * 2. the socket has TCP_NODELAY from the first byte: without it Nagle's
 *    algorithm holds back SFTP's small requests and streams crawl at 1-2 MiB/s;
 * 3. the server's host key must match the pinned fingerprint; without a pinned
 *    fingerprint the connection is refused too, and the offered fingerprint is
 *    reported so the customer can confirm and pin it (no silent trust on first use);
 * 4. only the algorithms of the endpoint's SSH security policy are offered
 *    (core/domain/ssh-security-policies.ts; FIPS-2024 unless the target names
 *    another); a partner that supports none of one class is refused with
 *    NO_COMMON_ALGORITHM, naming what it offered;
 * 5. the SFTP channels' SSH receive window is sized to the link (4 MiB on a
 *    short one, up to 16 MiB on a long one: the round trip of the session's
 *    own setup times the rate aimed at; the connection's open channels share
 *    it, each keeping at least 4 MiB) and kept topped up
 *    (receive-window.ts): with ssh2's own 2 MiB, refilled at half, downloads
 *    over a long link are capped at ~1 MiB per round trip; READ replies are
 *    copied once, from the channel's data into the reader's buffer
 *    (data-replies.ts), where ssh2 would copy them twice;
 * 6. failures become typed errors with stable codes (core/domain/connectivity-errors.ts)
 *    whose messages never carry the password, passphrase or private key.
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Algorithms, Client, SFTPWrapper } from 'ssh2';
import { utils } from 'ssh2';
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
import type { EndpointCredentials } from '../../domain/secrets';
import { SSH_SECURITY_POLICIES, type SshSecurityPolicyName, securityPolicyOf } from '../../domain/ssh-security-policies';
import { type HostResolver, type NetworkPolicy, vetHost } from '../net/network-policy';
import { copyDataRepliesOnce } from './data-replies';
import { ConnectionWindows, RoundTrips, receiveWindowFor } from './receive-window';

export interface SftpTarget {
  host: string;
  port: number;
  username: string;
  credentials: EndpointCredentials;
  /** "SHA256:<base64 without padding>", as OpenSSH prints it. */
  hostKeyFingerprint?: string;
  networkPolicy: NetworkPolicy;
  /** The SSH algorithms the connection may negotiate. Default DEFAULT_SSH_SECURITY_POLICY (FIPS-2024). */
  securityPolicy?: SshSecurityPolicyName;
  /** Budget for DNS, TCP connect, SSH handshake and authentication together. Default 10 s. */
  readyTimeoutMs?: number;
}

export interface OpenSftpOptions {
  /** DNS resolver for the SSRF guard (tests). Default: the system resolver. */
  resolver?: HostResolver;
}

export interface SftpSession {
  /** The ssh2-sftp-client instance: put/get/list/rename/... */
  client: SftpClient;
  /** The raw ssh2 SFTP channel, for requests the library does not expose and exact status codes. */
  sftp: SFTPWrapper;
  /** Extensions the server advertised in its SFTP VERSION packet (name → data), e.g. posix-rename@openssh.com. */
  supportedExtensions: Readonly<Record<string, string>>;
  /** The verified host key fingerprint. */
  hostKeyFingerprint: string;
  /** The vetted IP address the session is connected to. */
  address: string;
  /** What the handshake negotiated, within the target's security policy. */
  negotiated: NegotiatedAlgorithms;
  /**
   * Opens up to `count` more SFTP channels on this connection, each with its
   * own SSH window (for streams that spread their requests: moreChannels).
   * Fewer if the server refuses one (OpenSSH: MaxSessions) or does not answer
   * within CHANNEL_OPEN_TIMEOUT_MS; never throws. The caller ends them
   * (`end()`); closing the session ends them too.
   */
  openChannels(count: number): Promise<SFTPWrapper[]>;
  /**
   * The link's round trip as this session sees it: the one its setup measured
   * (receiveWindow's, at no cost), else the shortest of three requests that
   * cost the server nothing (REALPATH of "."), measured once.
   */
  roundTripMs(): Promise<number>;
  /**
   * The SSH receive window of the session's SFTP channels together (each open
   * one keeps an equal share, at least 4 MiB), and the round trip it was sized
   * to (receive-window.ts: the shortest of the setup's service request and
   * channel open; undefined if neither was seen); undefined where ssh2's
   * channel internals are not as expected (ssh2's own window then).
   */
  receiveWindow?: { bytes: number; roundTripMs: number | undefined };
  /** Ends the session, once: a later call waits for the same close. Never throws. */
  close(): Promise<void>;
}

export const DEFAULT_READY_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 2_000;
const CHANNEL_OPEN_TIMEOUT_MS = 10_000;

/** OpenSSH-style "SHA256:…" fingerprint of a host key blob in SSH wire format. */
export function fingerprintOf(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Tolerates padding and surrounding space in a pinned fingerprint; the "SHA256:" prefix is case-insensitive. */
function normalizeFingerprint(fingerprint: string): string {
  const trimmed = fingerprint.trim().replace(/=+$/, '');
  return /^sha256:/i.test(trimmed) ? `SHA256:${trimmed.slice(7)}` : trimmed;
}

/**
 * Replaces any secret of `credentials` that appears in `text` (the password,
 * the passphrase, any line of the private key) with "[redacted]". A second
 * line of defence for messages that quote a library or a server.
 */
export function scrubSecrets(text: string, credentials: EndpointCredentials): string {
  const secrets = [credentials.password, credentials.passphrase, ...(credentials.privateKey?.split(/\r?\n/) ?? [])]
    .map((s) => s?.trim())
    .filter((s): s is string => s !== undefined && s.length >= 4 && !/^-----(BEGIN|END) /.test(s))
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out;
}

/** The partner's KEXINIT lists per algorithm class, as ssh2's debug output reports them ("Handshake: (remote) KEX method: a,b"). */
type PartnerOffer = Partial<Record<SshAlgorithmClass, string[]>>;
const REMOTE_OFFER_LINES: [RegExp, SshAlgorithmClass][] = [
  [/^Handshake: \(remote\) KEX method: (.*)$/, 'kex'],
  [/^Handshake: \(remote\) Host key format: (.*)$/, 'serverHostKey'],
  [/^Handshake: \(remote\) C->S cipher: (.*)$/, 'cipher'],
  [/^Handshake: \(remote\) C->S MAC: (.*)$/, 'mac'],
];
const PSEUDO_ALGORITHM = /^(ext-info-|kex-strict-)/;
/** ssh2's handshake failures ("Handshake failed: no matching …") by algorithm class; compression is not a policy's. */
const NO_MATCH_MESSAGES: [RegExp, SshAlgorithmClass][] = [
  [/no matching key exchange algorithm/, 'kex'],
  [/no matching host key format/, 'serverHostKey'],
  [/no matching (C->S|S->C) cipher/, 'cipher'],
  [/no matching (C->S|S->C) MAC/, 'mac'],
];
const CLASS_NAMES: Record<SshAlgorithmClass, string> = {
  kex: 'key exchange',
  serverHostKey: 'host key',
  cipher: 'cipher',
  mac: 'MAC',
};

/** ssh2's `algorithms` option for a policy (its typings want its literal unions; the lists are checked against ssh2 in a test). */
function algorithmsOf(policy: SshSecurityPolicyName): Algorithms {
  const { kex, cipher, mac, serverHostKey } = SSH_SECURITY_POLICIES[policy].algorithms;
  return { kex: [...kex], cipher: [...cipher], hmac: [...mac], serverHostKey: [...serverHostKey] } as Algorithms;
}

type HostKeyVerdict = { offered: string; accepted: boolean };
type SshError = Error & { level?: string; code?: string | number };

/** Races a promise against a deadline; the loser is ignored. */
function withDeadline<T>(promise: Promise<T>, deadline: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function checkCredentials(target: SftpTarget): void {
  const { username, credentials } = target;
  if (!credentials.password && !credentials.privateKey) {
    throw new AuthenticationFailedError(`no password or private key is configured for user '${username}'`);
  }
  if (credentials.privateKey) {
    const parsed = utils.parseKey(credentials.privateKey, credentials.passphrase);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (parsed instanceof Error || !key || key.getPrivatePEM() === null) {
      const reason = parsed instanceof Error ? `: ${scrubSecrets(parsed.message, credentials)}` : '';
      throw new AuthenticationFailedError(
        `the private key configured for user '${username}' cannot be used${reason}; check the key and its passphrase`,
      );
    }
  }
}

function classify(
  raw: SshError | undefined,
  hostKey: HostKeyVerdict | undefined,
  target: SftpTarget,
  offer: PartnerOffer = {},
): Error {
  const where = `${target.host}:${target.port}`;
  const noMatch = raw?.level === 'handshake' ? NO_MATCH_MESSAGES.find(([pattern]) => pattern.test(raw.message)) : undefined;
  if (noMatch) {
    const algorithmClass = noMatch[1];
    const policy = securityPolicyOf(target);
    const offered = offer[algorithmClass];
    const theirs = offered ? `it offers ${offered.join(', ')}` : 'its offer was not seen';
    return new NoCommonAlgorithmError(
      algorithmClass,
      offered,
      `${where} supports no ${CLASS_NAMES[algorithmClass]} algorithm of security policy ${policy} (${SSH_SECURITY_POLICIES[policy].algorithms[algorithmClass].join(', ')}); ${theirs}: ask the partner to enable one, or choose a wider policy`,
    );
  }
  if (hostKey && !hostKey.accepted) {
    if (target.hostKeyFingerprint) {
      const pinned = normalizeFingerprint(target.hostKeyFingerprint);
      return new HostKeyMismatchError(
        hostKey.offered,
        pinned,
        `host key ${hostKey.offered} offered by ${where} does not match the pinned ${pinned}; if the partner changed its key, confirm the new fingerprint with them and update the endpoint`,
      );
    }
    return new HostKeyUnconfirmedError(
      hostKey.offered,
      `no host key is pinned for ${where}; the server offered ${hostKey.offered}: confirm it with the partner and pin it on the endpoint`,
    );
  }
  const code = raw?.code;
  if (raw?.level === 'client-authentication') {
    return new AuthenticationFailedError(
      `authentication failed for user '${target.username}' at ${where}: check the ${describeCredentials(target.credentials)}`,
    );
  }
  if (raw?.level === 'client-timeout' || code === 'ETIMEDOUT') {
    return new ConnectionTimeoutError(
      `no SSH session with ${where} within ${target.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS} ms: check the host, the port and that the partner's firewall allows the engine's addresses`,
    );
  }
  if (code === 'ECONNREFUSED') {
    return new ConnectionRefusedError(`connection refused by ${where}: check the port and that the SFTP server is running`);
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new ConnectionRefusedError(`${where} is unreachable from the engine's network: check the host and routing`);
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return new ConnectionRefusedError(
      `${where} closed the connection before the SSH session was set up: check that it is an SFTP server and that its firewall allows the engine's addresses`,
    );
  }
  const detail = raw?.message ? `: ${scrubSecrets(raw.message, target.credentials)}` : '';
  return new ConnectionFailedError(`could not set up an SFTP session with ${where}${detail}`);
}

function describeCredentials(credentials: EndpointCredentials): string {
  if (credentials.privateKey && credentials.password) return 'user name, private key and password';
  return credentials.privateKey ? 'user name and private key' : 'user name and password';
}

/** Reads the extensions from ssh2's SFTP channel (parsed from the VERSION packet; not in ssh2's public API). */
function advertisedExtensions(sftp: SFTPWrapper): Record<string, string> {
  const extensions = (sftp as unknown as { _extensions?: unknown })._extensions;
  if (!extensions || typeof extensions !== 'object') return {};
  return Object.fromEntries(Object.entries(extensions).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** One more SFTP channel on the client's SSH connection (ssh2-sftp-client keeps its ssh2 Client, untyped, in `client`). */
function openChannel(client: SftpClient, windows: ConnectionWindows): Promise<SFTPWrapper> {
  const ssh = (client as unknown as { client: Client }).client;
  const opening = new Promise<SFTPWrapper>((resolve, reject) => {
    ssh.sftp((err, sftp) => {
      if (err) return reject(err);
      // A protocol error reaches the streams as failed requests and the channel
      // closing; as an 'error' event with no listener it would end the process.
      sftp.on('error', () => {});
      copyDataRepliesOnce(sftp);
      windows.add(sftp);
      resolve(sftp);
    });
  });
  return withDeadline(opening, Date.now() + CHANNEL_OPEN_TIMEOUT_MS, () => new Error('timed out opening an SFTP channel'));
}

async function openChannels(client: SftpClient, count: number, windows: ConnectionWindows): Promise<SFTPWrapper[]> {
  const channels: SFTPWrapper[] = [];
  try {
    while (channels.length < count) channels.push(await openChannel(client, windows));
  } catch {
    // The server allows no more (or the connection is going): use what was opened.
  }
  return channels;
}

/** The shortest of three REALPATH round trips: one slow first answer or busy moment does not count. */
async function measureRoundTrip(sftp: SFTPWrapper): Promise<number> {
  let shortest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => sftp.realpath('.', (err) => (err ? reject(err) : resolve())));
    shortest = Math.min(shortest, performance.now() - started);
  }
  return shortest;
}

/** Opens an SFTP session to `target`, or throws a ConnectivityError (core/domain/connectivity-errors.ts). */
export async function openSftp(target: SftpTarget, options: OpenSftpOptions = {}): Promise<SftpSession> {
  checkCredentials(target);
  const readyTimeout = target.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const deadline = Date.now() + readyTimeout;
  const address = await withDeadline(
    vetHost(target.host, target.networkPolicy, options.resolver),
    deadline,
    () => new DnsFailureError(target.host, `could not resolve host '${target.host}': the DNS lookup timed out`),
  );

  const noop = () => {};
  // Quiet global listeners: the library's defaults write every error/end/close to the console.
  const client = new SftpClient('eft', { error: noop, end: noop, close: noop });
  let hostKey: HostKeyVerdict | undefined;
  let rawError: SshError | undefined;
  let negotiated: NegotiatedAlgorithms | undefined;
  const offer: PartnerOffer = {};
  // The round trips of the session's own setup (service request, channel open), for the receive window.
  const roundTrips = new RoundTrips();
  let timing = true;
  // The partner's lists reach us only through ssh2's debug output; kept until the first handshake completes.
  const debug = (line: string) => {
    if (timing) roundTrips.observe(line);
    if (negotiated || !line.startsWith('Handshake: (remote)')) return;
    for (const [pattern, algorithmClass] of REMOTE_OFFER_LINES) {
      const match = pattern.exec(line);
      // Less the pseudo-algorithms that only signal extensions (ext-info-s, kex-strict-s-v00@openssh.com).
      if (match) offer[algorithmClass] = (match[1] ?? '').split(',').filter((name) => name && !PSEUDO_ALGORITHM.test(name));
    }
  };
  const onHandshake = (algorithms: { kex: string; serverHostKey: string; cs: { cipher: string; mac: string } }) => {
    negotiated ??= {
      kex: algorithms.kex,
      cipher: algorithms.cs.cipher,
      mac: algorithms.cs.mac,
      serverHostKey: algorithms.serverHostKey,
    };
  };
  (client as unknown as { client: Client }).client.on('handshake', onHandshake);
  // Prepended, so it sees ssh2's own error (with its `level`) before the library rewraps it.
  const captureError = (err: SshError) => {
    rawError ??= err;
  };
  client.on('error', captureError);

  const sock = net.connect({ host: address, port: target.port, noDelay: true });
  sock.setNoDelay(true);
  const { password, privateKey, passphrase } = target.credentials;
  try {
    const connecting = client.connect({
      sock,
      host: address,
      port: target.port,
      username: target.username,
      ...(password !== undefined ? { password } : {}),
      ...(privateKey !== undefined ? { privateKey, ...(passphrase !== undefined ? { passphrase } : {}) } : {}),
      // The endpoint's own methods, in ssh2's order, and nothing else: by default ssh2 first asks with
      // "none" to learn the server's methods, one round trip more on every connection.
      authHandler: [
        ...(password !== undefined ? ['password' as const] : []),
        ...(privateKey !== undefined ? ['publickey' as const] : []),
      ],
      // Covers the TCP connect, the handshake and authentication (ssh2 starts it on connect()).
      readyTimeout: Math.max(1, deadline - Date.now()),
      algorithms: algorithmsOf(securityPolicyOf(target)),
      debug,
      // Called with the key before the server has proven it holds the private
      // half; ssh2 verifies that signature afterwards, so a pinned key cannot
      // be impersonated. An unpinned offer is only reported, never trusted.
      hostVerifier: (key: Buffer) => {
        const offered = fingerprintOf(key);
        const pinned = target.hostKeyFingerprint ? normalizeFingerprint(target.hostKeyFingerprint) : undefined;
        hostKey = { offered, accepted: pinned !== undefined && pinned === offered };
        return hostKey.accepted;
      },
    });
    // ssh2's readyTimeout ends at authentication; opening the SFTP channel is bounded here.
    const sftp = await withDeadline(connecting, deadline, () =>
      Object.assign(new Error('timed out opening the SFTP channel'), { level: 'client-timeout' }),
    );
    // Not for every data packet from here on: the setup's round trips are in.
    timing = false;
    const setupRoundTripMs = roundTrips.shortestMs;
    const windows = new ConnectionWindows(receiveWindowFor(setupRoundTripMs));
    copyDataRepliesOnce(sftp);
    const widened = windows.add(sftp);
    let roundTrip: Promise<number> | undefined;
    let closing: Promise<void> | undefined;
    const session: SftpSession = {
      client,
      sftp,
      supportedExtensions: Object.freeze(advertisedExtensions(sftp)),
      hostKeyFingerprint: (hostKey as HostKeyVerdict | undefined)?.offered ?? '',
      address,
      negotiated: negotiated as NegotiatedAlgorithms,
      openChannels: (count) => openChannels(client, count, windows),
      // The setup's round trip saves three more on every large file's stream (60 ms at 20 ms RTT).
      roundTripMs: () => {
        roundTrip ??= setupRoundTripMs === undefined ? measureRoundTrip(sftp) : Promise.resolve(setupRoundTripMs);
        return roundTrip;
      },
      ...(widened ? { receiveWindow: { bytes: windows.bytes, roundTripMs: setupRoundTripMs } } : {}),
      // Once per session, whoever calls: a batch's files that fail on a shared session each reset it, often 16
      // at once, and every call of ssh2-sftp-client's end() adds 'close' (two), 'end' and 'error' listeners to
      // ssh2's Client until the connection has closed (up to CLOSE_TIMEOUT_MS on a stalled link): eleven
      // 'close' listeners and Node's MaxListenersExceededWarning after five. Later callers wait for the first.
      close: () => {
        closing ??= (async () => {
          // A polite SSH disconnect, bounded: a peer that never closes must not hold us.
          await withDeadline(client.end(), Date.now() + CLOSE_TIMEOUT_MS, () => new Error('close timed out')).catch(() => false);
          sock.destroy();
        })();
        return closing;
      },
    };
    return session;
  } catch (err) {
    sock.destroy();
    await client.end().catch(() => false);
    throw classify(rawError ?? (err as SshError), hostKey, target, offer);
  } finally {
    client.removeListener('error', captureError);
    (client as unknown as { client: Client }).client.removeListener('handshake', onHandshake);
  }
}
