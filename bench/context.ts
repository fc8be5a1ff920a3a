/** What the scenarios share: options, scratch space, the peers, and the measurements taken so far. */
import { statfsSync } from 'node:fs';
import type { SshSecurityPolicyName } from '../core/domain/ssh-security-policies';
import type { Sshd } from '../tests/support/sshd';
import type { Bundles } from './bundles';
import type { Options } from './options';
import type { PeerSettings, SftpServerRef } from './peers';
import type { MemorySample, OutputLine, RunOutcome } from './proc';
import { GiB, mbps, median, round } from './util';

export type Tool = 'eft' | 'openssh-sftp' | 'rclone' | 'aws-cli';

export interface RssWindow {
  /** RSS samples between 10 % and 90 % of the transfer's progress */
  samples: number;
  minMiB: number;
  maxMiB: number;
  medianMiB: number;
  /** largest distance of a sample from the median, in % of the median ("±x %") */
  deviationPct: number;
  /** what progress was read from */
  progressFrom: 'bytes' | 'time';
}

export interface Measurement {
  scenario: string;
  network: string;
  tool: Tool;
  /** eft's SSH security policy, on the SFTP legs (--policies); the tables label the row "eft (POLICY)". */
  policy?: SshSecurityPolicyName;
  /** eft's SSH layer on the SFTP legs when it is not ssh2's: "openssh" (--sftp-openssh). */
  transport?: 'openssh';
  /** bytes moved (or files, for the small-files scenario: see `files`) */
  bytes: number;
  files?: number;
  round: number;
  /** the time the rate is computed from: the whole process, start to exit */
  wallMs: number;
  mbps: number;
  /** CPU of the client process tree */
  cpuMs: number;
  /** CPU of sshd (its session processes) during the run */
  sshdCpuMs?: number;
  /** CPU of the S3 emulator during the run */
  s3CpuMs?: number;
  /** CPU other processes on the machine (not the bench's) used during the run */
  otherCpuMs?: number;
  peakRssMiB: number;
  /** kernel-tracked peak (VmHWM), or what the process reported itself */
  hwmMiB: number;
  rss?: RssWindow;
  /** RSS over the run, at most 60 points: [ms since start, MiB] */
  rssSeries?: Array<[number, number]>;
  verified: 'sha256' | 'size+samples' | 'result' | 'count' | 'no';
  detail?: Record<string, unknown>;
}

export interface BenchContext {
  options: Options;
  workDir: string;
  bundles: Bundles;
  sshd: Sshd;
  sshdPid: number;
  /** The loopback sshd as the peers see it. */
  server: SftpServerRef;
  peer: PeerSettings;
  /** Where the SFTP-side test files live (absolute paths, no chroot). */
  remoteDir: string;
  measurements: Measurement[];
  notes: string[];
  skipped: string[];
  deadline: number;
}

export function note(ctx: BenchContext, text: string): void {
  ctx.notes.push(text);
}

export function skip(ctx: BenchContext, text: string): void {
  ctx.skipped.push(text);
  process.stderr.write(`[bench] SKIPPED: ${text}\n`);
}

/** Free bytes on the filesystem holding `path`. */
export function freeBytes(path: string): number {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
}

/** Whether `bytes` more fit on the filesystem of `path`, keeping 1 GiB spare. */
export function roomFor(path: string, bytes: number): boolean {
  return freeBytes(path) - bytes > GiB;
}

export function remainingMs(ctx: BenchContext): number {
  return ctx.deadline - Date.now();
}

/** A command's timeout: what is left of the global budget, at most `capMs`. */
export function runTimeout(ctx: BenchContext, capMs: number): number {
  const left = remainingMs(ctx);
  if (left < 5000) throw new Error('the global time budget is used up');
  return Math.min(capMs, left - 2000);
}

/**
 * Progress as (time, bytes) points that say when each value was first seen.
 * A polled counter (the job's bytesTransferred, written at most once a
 * second, read every 250 ms) repeats a value until the next write: the
 * repeats say nothing about the bytes moved meanwhile, and interpolating
 * through them would hold the progress back and then jump it.
 */
function progressChanges(progress: Array<{ t: number; bytes: number }>): Array<{ t: number; bytes: number }> {
  const sorted = progress.filter((p) => Number.isFinite(p.bytes)).sort((a, b) => a.t - b.t);
  return sorted.filter((p, i) => i === 0 || p.bytes !== (sorted[i - 1] as { bytes: number }).bytes);
}

/**
 * RSS flatness between 10 % and 90 % progress. Progress is interpolated from
 * (time, bytes) points when there are any, else taken as the fraction of the
 * run's time. Only samples inside the span of the progress points count: one
 * taken before the first reading or after the last has no known progress
 * (before it the process may still be starting, after it finishing), and
 * taking the nearest reading's value for it put the worker's start-up (60 MiB
 * while its first progress write already said 11 %) into the window.
 */
export function rssWindow(
  samples: MemorySample[],
  progress: Array<{ t: number; bytes: number }>,
  total: number,
  wallMs: number,
): RssWindow | undefined {
  const points = progressChanges(progress);
  const useBytes = points.length >= 2 && total > 0;
  const first = points[0] as { t: number; bytes: number };
  const last = points[points.length - 1] as { t: number; bytes: number };
  /** Progress at `t` (0–1), or undefined outside the span of the readings. */
  const at = (t: number): number | undefined => {
    if (!useBytes) return t / wallMs;
    if (t < first.t || t > last.t) return undefined;
    for (let i = 1; i < points.length; i++) {
      const a = points[i - 1] as { t: number; bytes: number };
      const b = points[i] as { t: number; bytes: number };
      if (t <= b.t) return (a.bytes + ((b.bytes - a.bytes) * (t - a.t)) / Math.max(1e-9, b.t - a.t)) / total;
    }
    return last.bytes / total;
  };
  const inWindow = samples.filter((s) => {
    const p = at(s.t);
    return p !== undefined && p >= 0.1 && p <= 0.9;
  });
  if (inWindow.length < 3) return undefined;
  const mib = inWindow.map((s) => s.rssKiB / 1024);
  const mid = median(mib);
  return {
    samples: mib.length,
    minMiB: round(Math.min(...mib)),
    maxMiB: round(Math.max(...mib)),
    medianMiB: round(mid),
    deviationPct: round((Math.max(...mib.map((v) => Math.abs(v - mid))) / mid) * 100),
    progressFrom: useBytes ? 'bytes' : 'time',
  };
}

/** Progress points a child printed as {"event":"progress","bytes":n} lines. */
export function progressFromLines(lines: OutputLine[]): Array<{ t: number; bytes: number }> {
  const out: Array<{ t: number; bytes: number }> = [];
  for (const { t, line } of lines) {
    if (!line.startsWith('{')) continue;
    try {
      const event = JSON.parse(line) as { event?: string; bytes?: number };
      if (event.event === 'progress' && typeof event.bytes === 'number') out.push({ t, bytes: event.bytes });
    } catch {
      // not JSON: ignore
    }
  }
  return out;
}

/** The last JSON line of a child with the given event name. */
export function eventOf<T>(lines: OutputLine[], event: string): T | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] as OutputLine).line;
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as { event?: string; message?: string };
      if (parsed.event === event || parsed.message === event) return parsed as T;
    } catch {
      // ignore
    }
  }
  return undefined;
}

/** At most `points` samples, evenly spread, as [ms, MiB]. */
export function rssSeries(samples: MemorySample[], points = 60): Array<[number, number]> {
  const step = Math.max(1, Math.ceil(samples.length / points));
  return samples.filter((_, i) => i % step === 0).map((s) => [Math.round(s.t), round(s.rssKiB / 1024)]);
}

export function measurement(
  base: Omit<Measurement, 'mbps' | 'peakRssMiB' | 'hwmMiB' | 'wallMs' | 'cpuMs'> & { hwmMiB?: number },
  outcome: RunOutcome,
): Measurement {
  return {
    rssSeries: rssSeries(outcome.samples),
    ...base,
    wallMs: round(outcome.wallMs, 0),
    mbps: round(mbps(base.bytes, outcome.wallMs), 1),
    cpuMs: round(outcome.cpuMs, 0),
    peakRssMiB: round(outcome.peakRssKiB / 1024),
    hwmMiB: base.hwmMiB ?? round(outcome.hwmKiB / 1024),
  };
}

export function failure(what: string, outcome: RunOutcome): Error {
  const reason = outcome.timedOut ? 'timed out' : `exit ${outcome.exitCode ?? outcome.signal}`;
  return new Error(`${what} failed (${reason}): ${outcome.stderr.trim().slice(-2000)}`);
}
