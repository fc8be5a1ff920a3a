/**
 * The `ssh` command line of openssh-transport.ts, and what its log (LogLevel
 * DEBUG1 on stderr) says: the negotiated algorithms and why a session failed
 * (ssh exits 255 for every failure, so the log is the only way to tell).
 */
import type { SshAlgorithmClass } from '../../domain/connectivity-errors';
import type { NegotiatedAlgorithms } from '../../domain/endpoint';
import type { SshAlgorithms } from '../../domain/ssh-security-policies';

export interface SshArgsInput {
  /** The vetted IP address: ssh never sees the host name. */
  address: string;
  port: number;
  username: string;
  hostKeyAlias: string;
  /** Well-formed "SHA256:…" (checked by the caller), or none: then every key is refused and only recorded. */
  pinnedFingerprint: string | undefined;
  /** Where the KnownHostsCommand records the offered key's fingerprint. A path of mkdtemp's: no quotes or '%'. */
  offeredPath: string;
  identityPath: string | undefined;
  password: boolean;
  /** An askpass helper answers prompts (password, passphrase); else BatchMode. */
  interactive: boolean;
  algorithms: SshAlgorithms;
  connectTimeoutSeconds: number;
}

/**
 * The KnownHostsCommand: ssh runs it (no shell of the user's; argv split
 * first, then %-tokens expanded per argument) with the offered key's
 * fingerprint, the alias, the key type and the key. It prints the key as a
 * known_hosts line only if the fingerprint is the pinned one.
 */
function knownHostsCommand(pinned: string | undefined, offeredPath: string): string {
  if (/['"%\\\s]/.test(offeredPath)) throw new Error('unsafe path for the known-hosts command');
  const record = `[ -n "$1" ] && echo "$1" > "${offeredPath}";`;
  const answer = pinned ? ` [ "$1" = "${pinned}" ] && echo "$2 $3 $4";` : '';
  return `/bin/sh -c '${record}${answer} exit 0' sh %f %H %t %K`;
}

export function openSshArgs(input: SshArgsInput): string[] {
  const { algorithms } = input;
  const methods = [...(input.identityPath ? ['publickey'] : []), ...(input.password ? ['keyboard-interactive', 'password'] : [])];
  const options: Record<string, string> = {
    BatchMode: input.interactive ? 'no' : 'yes',
    StrictHostKeyChecking: 'yes',
    UserKnownHostsFile: '/dev/null',
    GlobalKnownHostsFile: '/dev/null',
    KnownHostsCommand: knownHostsCommand(input.pinnedFingerprint, input.offeredPath),
    HostKeyAlias: input.hostKeyAlias,
    CheckHostIP: 'no',
    UpdateHostKeys: 'no',
    VerifyHostKeyDNS: 'no',
    KexAlgorithms: algorithms.kex.join(','),
    Ciphers: algorithms.cipher.join(','),
    MACs: algorithms.mac.join(','),
    HostKeyAlgorithms: algorithms.serverHostKey.join(','),
    PreferredAuthentications: methods.join(','),
    PubkeyAuthentication: input.identityPath ? 'yes' : 'no',
    IdentitiesOnly: 'yes',
    IdentityFile: input.identityPath ?? 'none',
    IdentityAgent: 'none',
    NumberOfPasswordPrompts: '1',
    ConnectTimeout: String(input.connectTimeoutSeconds),
    ConnectionAttempts: '1',
    ControlMaster: 'no',
    ControlPath: 'none',
    ProxyCommand: 'none',
    ForwardAgent: 'no',
    ForwardX11: 'no',
    ClearAllForwardings: 'yes',
    Compression: 'no',
    // A dead partner is noticed as on the ssh2 path (keepalives), not after TCP's hours.
    ServerAliveInterval: '15',
    ServerAliveCountMax: '4',
    LogLevel: 'DEBUG1',
  };
  return [
    '-F',
    '/dev/null',
    ...Object.entries(options).flatMap(([name, value]) => ['-o', `${name}=${value}`]),
    '-p',
    String(input.port),
    '-l',
    input.username,
    '-T',
    '-s',
    '--',
    input.address,
    'sftp',
  ];
}

export interface SshLogFacts {
  negotiated: Partial<NegotiatedAlgorithms>;
  noMatch?: { algorithmClass: SshAlgorithmClass; offer: string[] };
  hostKeyRefused: boolean;
  authFailed: boolean;
  timedOut: boolean;
  refused: boolean;
  unreachable: boolean;
  closed: boolean;
  /** The last line that is not debug output, for an unexplained failure. */
  lastError?: string;
}

const NO_MATCH: [RegExp, SshAlgorithmClass][] = [
  [/no matching key exchange method found\. Their offer: (\S+)/, 'kex'],
  [/no matching host key type found\. Their offer: (\S+)/, 'serverHostKey'],
  [/no matching cipher found\. Their offer: (\S+)/, 'cipher'],
  [/no matching MAC found\. Their offer: (\S+)/, 'mac'],
];

export function parseSshLog(log: string): SshLogFacts {
  const negotiated: Partial<NegotiatedAlgorithms> = {};
  const kex = /debug1: kex: algorithm: (\S+)/.exec(log);
  const hostKey = /debug1: kex: host key algorithm: (\S+)/.exec(log);
  const cs = /debug1: kex: client->server cipher: (\S+) MAC: (\S+)/.exec(log);
  if (kex?.[1]) negotiated.kex = kex[1];
  if (hostKey?.[1]) negotiated.serverHostKey = hostKey[1];
  if (cs?.[1]) negotiated.cipher = cs[1];
  // An AEAD cipher's MAC: "<implicit>" to ssh, '' in openSftp's records.
  if (cs?.[2]) negotiated.mac = cs[2] === '<implicit>' ? '' : cs[2];
  let noMatch: SshLogFacts['noMatch'];
  for (const [pattern, algorithmClass] of NO_MATCH) {
    const match = pattern.exec(log);
    if (match?.[1]) {
      noMatch = { algorithmClass, offer: match[1].split(',').filter((n) => n && !/^(ext-info-|kex-strict-)/.test(n)) };
      break;
    }
  }
  const lastError = log
    .split(/\r?\n/)
    .filter((line) => line.trim() && !line.startsWith('debug'))
    .pop();
  return {
    negotiated,
    ...(noMatch ? { noMatch } : {}),
    hostKeyRefused: /Host key verification failed|No \S+ host key is known for/.test(log),
    authFailed: /Permission denied|Too many authentication failures/.test(log),
    timedOut: /Connection timed out|Operation timed out/.test(log),
    refused: /Connection refused/.test(log),
    unreachable: /No route to host|Network is unreachable/.test(log),
    closed: /Connection closed by|Connection reset by|kex_exchange_identification/.test(log),
    ...(lastError ? { lastError } : {}),
  };
}
