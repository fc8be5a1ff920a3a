/** One measured run of a tool, with the server-side CPU it caused and its progress over time. */

import { statSync } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { type BenchContext, failure, note, runTimeout } from './context';
import type { Command } from './peers';
import { machineBusyMs, processTree, type RunOutcome, runMeasured, runQuiet, totalCpuMs, treeCpuMs } from './proc';
import { sleep } from './util';

export interface Observed {
  outcome: RunOutcome;
  /** CPU the machine spent outside the bench's own process tree during the run (other tenants' work) */
  otherCpuMs: number;
  sshdCpuMs?: number;
  s3CpuMs?: number;
  /** (t, bytes) points read while it ran */
  progress: Array<{ t: number; bytes: number }>;
}

export interface ObserveOptions {
  what: string;
  /** Prefix for the command, e.g. ['ip','netns','exec',ns]. */
  prefix?: string[];
  /** sshd master whose session processes do the server side. */
  sshdPid?: number;
  s3Pid?: number;
  /** A file whose size is the progress (a download's destination, an upload's target on the server's disk). */
  progressFile?: string;
  /** Reads progress (bytes) from elsewhere, e.g. the job record; called at most every 250 ms. */
  poll?: () => Promise<number | undefined>;
  capMs?: number;
}

/** Waits (bounded) until sshd has reaped the run's session processes, so their CPU is counted. */
async function sshdSettled(pid: number): Promise<void> {
  for (let i = 0; i < 60 && processTree(pid).length > 1; i++) await sleep(50);
}

/** Machine CPU outside the bench's process tree over `ms`, in cores. */
async function otherLoad(ms: number): Promise<number> {
  const [machine, tree] = [machineBusyMs(), treeCpuMs(process.pid)];
  await sleep(ms);
  return (machineBusyMs() - machine - (treeCpuMs(process.pid) - tree)) / ms;
}

/**
 * Waits (at most `maxMs`) until other processes on the machine use less than
 * `cores` of CPU, so a run does not share the CPUs with someone else's build.
 */
export async function waitForQuiet(ctx: BenchContext, what: string, maxMs = 60_000, cores = 0.15): Promise<void> {
  const started = Date.now();
  let load = await otherLoad(500);
  while (load > cores && Date.now() - started < maxMs) load = await otherLoad(1000);
  if (load > cores) {
    note(
      ctx,
      `${what}: other processes kept ${load.toFixed(2)} cores busy; it ran anyway after waiting ${Math.round(maxMs / 1000)} s (see the column "others, cores")`,
    );
  }
}

export async function observe(ctx: BenchContext, command: Command, options: ObserveOptions): Promise<Observed> {
  await waitForQuiet(ctx, options.what);
  const machineBefore = machineBusyMs();
  const treeBefore = treeCpuMs(process.pid);
  const sshdBefore = options.sshdPid ? totalCpuMs(options.sshdPid) : 0;
  const s3Before = options.s3Pid ? totalCpuMs(options.s3Pid) : 0;
  const progress: Array<{ t: number; bytes: number }> = [];
  const prefix = options.prefix ?? [];
  let polling = false;
  let lastPoll = -1000;
  const poll = (t: number) => {
    if (!options.poll || polling || t - lastPoll < 250) return;
    polling = true;
    lastPoll = t;
    options
      .poll()
      .then((bytes) => {
        if (bytes !== undefined) progress.push({ t, bytes });
      })
      .catch(() => undefined)
      .finally(() => {
        polling = false;
      });
  };
  const [bin, ...args] = [...prefix, command.command, ...command.args] as [string, ...string[]];
  const outcome = await runMeasured({
    command: bin,
    args,
    env: command.env,
    timeoutMs: runTimeout(ctx, options.capMs ?? 30 * 60_000),
    sampleMs: 100,
    onSample: (t) => {
      poll(t);
      if (!options.progressFile) return;
      try {
        progress.push({ t, bytes: statSync(options.progressFile).size });
      } catch {
        // not created yet
      }
    },
  });
  if (outcome.exitCode !== 0) throw failure(options.what, outcome);
  if (options.sshdPid) await sshdSettled(options.sshdPid);
  const otherCpuMs = Math.max(0, machineBusyMs() - machineBefore - (treeCpuMs(process.pid) - treeBefore));
  return {
    outcome,
    otherCpuMs,
    progress,
    ...(options.sshdPid ? { sshdCpuMs: totalCpuMs(options.sshdPid) - sshdBefore } : {}),
    ...(options.s3Pid ? { s3CpuMs: totalCpuMs(options.s3Pid) - s3Before } : {}),
  };
}

/** Flushes dirty pages between runs, so one run's write-back does not land in the next one's time. */
export async function settle(): Promise<void> {
  await runQuiet('sync', [], { timeoutMs: 120_000 });
  await sleep(200);
}

/** Same size and the same bytes at 16 spread-out 64 KiB windows: a cheap check for rounds after the first. */
export async function sameSampled(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  if (sa.size !== sb.size) return false;
  const window = 64 * 1024;
  const [fa, fb] = await Promise.all([open(a), open(b)]);
  try {
    for (let i = 0; i < 16; i++) {
      const at = Math.max(0, Math.floor(((sa.size - window) * i) / 15));
      const [ba, bb] = [Buffer.alloc(window), Buffer.alloc(window)];
      const [ra, rb] = await Promise.all([fa.read(ba, 0, window, at), fb.read(bb, 0, window, at)]);
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
    return true;
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { force: true });
}
