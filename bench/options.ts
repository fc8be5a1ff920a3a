/** Command line of `npm run bench -- [options]` (USAGE below; the profiles in PROFILES). */

export const USAGE = `Command line of \`npm run bench -- [options]\`.

  --profile default|large   default: 256 MiB and 1 GiB, 3 rounds, ~15 minutes on 2 cores;
                            large: 1 GiB, 8 GiB and 30 GB, 1 round (needs ~2x the largest size free)
  --size S[,S…]             file sizes instead of the profile's (e.g. 1GiB, 512MiB, 30GB); repeatable
  --s3-size S[,S…]          sizes of the legs with S3 (default: --size if given, else the profile's:
                            1 GiB by default, as the emulator takes only ~70 MB/s)
  --rounds N                rounds of each comparison (tools alternate order each round)
  --files N                 small-files scenario: number of files (default 10000)
  --file-size S             small-files scenario: size of each (default 1KiB)
  --eft-files-budget SEC    small-files scenario: how long to wait for eft's jobs to end (default 300)
  --clients N               job-creation load: concurrent clients (default 20)
  --requests N              job-creation load: requests in total (default 1000)
  --rtt-ms N                added round-trip time of the latency run (default 20; 0 = the namespaces without netem)
  --no-latency              skip the latency run
  --only a,b                run only these scenarios: sftp, s3, copy, single, small, api, emulator, triggers
                            (single: one 1 KiB file SFTP → S3 at a time, created → SUCCEEDED)
                            (triggers: route and schedule latency; the engine then ticks every 1 s)
  --cipher NAME             cipher pinned for OpenSSH (default aes128-gcm@openssh.com)
  --policies P[,P…]         SSH security policies eft's SFTP download and upload run with, once each,
                            labelled "eft (P)": FIPS-2024, MODERN, LEGACY (default FIPS-2024, the
                            endpoints' default); the cipher probe reports what every policy negotiates
  --sftp-openssh            also run eft's SFTP legs over an OpenSSH \`ssh -s sftp\` child (issue 18's evaluation),
                            labelled "eft (P, openssh)"
  --timeout MIN             global time budget in minutes (default 45; large profile 600)
  --no-docs                 do not rewrite docs/benchmarks.md
  --cpu-prof DIR            write a V8 CPU profile of every eft process to DIR (slows them a little)
  --eft-node-arg ARG        an extra Node flag for every eft process (repeatable), e.g. --eft-node-arg=--trace-gc`;

import {
  DEFAULT_SSH_SECURITY_POLICY,
  SSH_SECURITY_POLICY_NAMES,
  type SshSecurityPolicyName,
} from '../core/domain/ssh-security-policies';
import { GiB, KiB, MiB, parseSize } from './util';

export const SCENARIOS = ['sftp', 's3', 'copy', 'single', 'small', 'api', 'emulator', 'triggers'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Options {
  profile: 'default' | 'large';
  /** Sizes of the SFTP legs */
  sizes: number[];
  /** Sizes of the legs that involve the S3 emulator (slower: it takes ~70 MB/s) */
  s3Sizes: number[];
  rounds: number;
  files: number;
  fileSize: number;
  eftFilesBudgetMs: number;
  clients: number;
  requests: number;
  rttMs: number;
  latency: boolean;
  only: Set<Scenario>;
  cipher: string;
  /** SSH security policies of eft's SFTP legs, each run once per round (--policies). */
  policies: SshSecurityPolicyName[];
  /** Also run eft's SFTP legs over OpenSSH's ssh (--sftp-openssh; core/adapters/sftp/openssh-transport.ts). */
  sftpOpenssh: boolean;
  timeoutMs: number;
  docs: boolean;
  /** Directory for V8 CPU profiles of the eft processes (--cpu-prof DIR). */
  cpuProfDir?: string;
  /** Extra Node flags for the eft processes (--eft-node-arg ARG, repeatable), e.g. --require=memlog.cjs. */
  nodeArgs: string[];
  argv: string[];
}

const PROFILES = {
  default: { sizes: [256 * MiB, GiB], s3Sizes: [GiB], rounds: 3, timeoutMin: 45 },
  large: { sizes: [GiB, 8 * GiB, 30e9], s3Sizes: [GiB, 8 * GiB, 30e9], rounds: 1, timeoutMin: 600 },
} as const;

function positiveInt(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} needs a non-negative integer, got ${text}`);
  return value;
}

export function parseOptions(argv: string[]): Options {
  let profile: Options['profile'] = 'default';
  const sizes: number[] = [];
  const s3Sizes: number[] = [];
  const nodeArgs: string[] = [];
  const raw: Record<string, string> = {};
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [name, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined) throw new Error(`${name} needs a value`);
      return next;
    };
    switch (name) {
      case '--profile': {
        const p = value();
        if (p !== 'default' && p !== 'large') throw new Error(`--profile is default or large, not ${p}`);
        profile = p;
        break;
      }
      case '--size':
        for (const s of value().split(',')) sizes.push(parseSize(s));
        break;
      case '--eft-node-arg':
        nodeArgs.push(value());
        break;
      case '--s3-size':
        for (const s of value().split(',')) s3Sizes.push(parseSize(s));
        break;
      case '--no-latency':
      case '--no-docs':
      case '--sftp-openssh':
        flags.add(name);
        break;
      case '--rounds':
      case '--files':
      case '--file-size':
      case '--eft-files-budget':
      case '--clients':
      case '--requests':
      case '--rtt-ms':
      case '--only':
      case '--cipher':
      case '--policies':
      case '--timeout':
      case '--cpu-prof':
        raw[name] = value();
        break;
      case '--help':
      case '-h':
        throw new Error('usage');
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  const base = PROFILES[profile];
  const only = new Set<Scenario>();
  for (const s of (raw['--only'] ?? SCENARIOS.join(',')).split(',')) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--only takes ${SCENARIOS.join(', ')}; not ${s}`);
    only.add(s as Scenario);
  }
  const policies: SshSecurityPolicyName[] = [];
  for (const p of (raw['--policies'] ?? DEFAULT_SSH_SECURITY_POLICY).split(',')) {
    if (!(SSH_SECURITY_POLICY_NAMES as readonly string[]).includes(p))
      throw new Error(`--policies takes ${SSH_SECURITY_POLICY_NAMES.join(', ')}; not ${p}`);
    if (!policies.includes(p as SshSecurityPolicyName)) policies.push(p as SshSecurityPolicyName);
  }
  const rounds = raw['--rounds'] ? positiveInt('--rounds', raw['--rounds']) : base.rounds;
  if (rounds < 1) throw new Error('--rounds must be at least 1');
  return {
    profile,
    sizes: sizes.length > 0 ? sizes : [...base.sizes],
    s3Sizes: s3Sizes.length > 0 ? s3Sizes : sizes.length > 0 ? sizes : [...base.s3Sizes],
    rounds,
    files: raw['--files'] ? positiveInt('--files', raw['--files']) : 10_000,
    fileSize: raw['--file-size'] ? parseSize(raw['--file-size']) : KiB,
    eftFilesBudgetMs: (raw['--eft-files-budget'] ? positiveInt('--eft-files-budget', raw['--eft-files-budget']) : 300) * 1000,
    clients: Math.max(1, raw['--clients'] ? positiveInt('--clients', raw['--clients']) : 20),
    requests: Math.max(1, raw['--requests'] ? positiveInt('--requests', raw['--requests']) : 1000),
    rttMs: raw['--rtt-ms'] ? positiveInt('--rtt-ms', raw['--rtt-ms']) : 20,
    latency: !flags.has('--no-latency'),
    only,
    cipher: raw['--cipher'] ?? 'aes128-gcm@openssh.com',
    policies,
    sftpOpenssh: flags.has('--sftp-openssh'),
    timeoutMs: (raw['--timeout'] ? positiveInt('--timeout', raw['--timeout']) : base.timeoutMin) * 60_000,
    docs: !flags.has('--no-docs'),
    ...(raw['--cpu-prof'] ? { cpuProfDir: raw['--cpu-prof'] } : {}),
    nodeArgs,
    argv,
  };
}
