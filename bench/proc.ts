/**
 * Runs one measured command: wall time, CPU time, memory sampled over time
 * from /proc, and the command's output lines (with arrival times).
 *
 * - CPU: the difference in this process's cutime+cstime (/proc/self/stat)
 *   across the run. The kernel adds a child's CPU (and that of every
 *   descendant it reaped, e.g. the `ssh` that `sftp` starts) when the child
 *   is reaped, so the delta is exactly the command's CPU, as long as no
 *   other child of the bench exits meanwhile (none does: the emulators and
 *   sshd live for the whole run).
 * - Memory: VmRSS of the command's process tree every `sampleMs`, and VmHWM
 *   (the kernel's own peak RSS) of each process, summed over the tree.
 * - Bounded: the command is killed (SIGTERM, then SIGKILL) after `timeoutMs`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux/x86). */
const CLK_TCK = 100;

export interface ProcStat {
  ppid: number;
  /** user + system CPU of the process itself, ms */
  cpuMs: number;
  /** CPU of its reaped descendants, ms */
  childrenCpuMs: number;
}

export function readStat(pid: number | 'self'): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself contain spaces or ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(rest[i]);
    return {
      ppid: n(1),
      cpuMs: ((n(11) + n(12)) * 1000) / CLK_TCK,
      childrenCpuMs: ((n(13) + n(14)) * 1000) / CLK_TCK,
    };
  } catch {
    return undefined;
  }
}

export interface ProcMemory {
  rssKiB: number;
  hwmKiB: number;
}

export function readMemory(pid: number): ProcMemory | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
  } catch {
    return undefined;
  }
}

export function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Every process, as pid → parent pid. */
function processTable(): Map<number, number> {
  const table = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) table.set(Number(name), stat.ppid);
  }
  return table;
}

/** `root` and all its descendants. */
export function processTree(root: number): number[] {
  const table = processTable();
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of table) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0 && out.length < 10_000) {
    const pid = stack.pop() as number;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Children of `parent` whose command line contains `needle`. */
export function findChildren(parent: number, needle: string): number[] {
  const out: number[] = [];
  for (const [pid, ppid] of processTable()) if (ppid === parent && readCmdline(pid).includes(needle)) out.push(pid);
  return out;
}

/** Total CPU of a long-lived process: its own plus what it has reaped. */
export function totalCpuMs(pid: number): number {
  const stat = readStat(pid);
  return stat ? stat.cpuMs + stat.childrenCpuMs : 0;
}

export interface MemorySample {
  /** ms since the command started */
  t: number;
  /** VmRSS summed over the process tree */
  rssKiB: number;
}

export interface OutputLine {
  t: number;
  line: string;
}

export interface RunSpec {
  command: string;
  args: string[];
  /** The complete environment: nothing is inherited. */
  env: Record<string, string>;
  cwd?: string;
  timeoutMs: number;
  sampleMs?: number;
  /** Data for the command's stdin, if any. */
  input?: string;
  /** Called at every memory sample with its time (ms since start), e.g. to read progress. */
  onSample?: (t: number) => void;
}

export interface RunOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  cpuMs: number;
  /** Largest VmRSS sum over the tree seen by sampling. */
  peakRssKiB: number;
  /** Sum over the tree's processes of their VmHWM (kernel-tracked peak) as last seen. */
  hwmKiB: number;
  samples: MemorySample[];
  stdout: OutputLine[];
  stderr: string;
  timedOut: boolean;
}

const MAX_STDERR = 64 * 1024;

/** Commands running now, so a global timeout or Ctrl-C can stop them. */
const active = new Set<ChildProcess>();

export function killActiveChildren(): void {
  for (const child of active) child.kill('SIGKILL');
}

export async function runMeasured(spec: RunSpec): Promise<RunOutcome> {
  const sampleMs = spec.sampleMs ?? 100;
  const cpuBefore = readStat('self')?.childrenCpuMs ?? 0;
  const started = performance.now();
  const child = spawn(spec.command, spec.args, {
    env: spec.env,
    cwd: spec.cwd,
    stdio: [spec.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  active.add(child);
  child.once('close', () => active.delete(child));
  if (spec.input !== undefined) child.stdin?.end(spec.input);
  const stdout: OutputLine[] = [];
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const t = performance.now() - started;
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.length > 0 && stdout.length < 100_000) stdout.push({ t, line });
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-MAX_STDERR);
  });

  const samples: MemorySample[] = [];
  const hwm = new Map<number, number>();
  let tree: number[] = child.pid ? [child.pid] : [];
  let lastScan = 0;
  let peakRssKiB = 0;
  const sample = () => {
    if (!child.pid) return;
    const now = performance.now();
    // Re-reading the whole process table is the expensive part: twice a second is enough to catch new descendants.
    if (now - lastScan > 500) {
      tree = processTree(child.pid);
      lastScan = now;
    }
    let rss = 0;
    for (const pid of tree) {
      const memory = readMemory(pid);
      if (!memory) continue;
      rss += memory.rssKiB;
      hwm.set(pid, Math.max(hwm.get(pid) ?? 0, memory.hwmKiB));
    }
    if (rss > 0) {
      samples.push({ t: now - started, rssKiB: rss });
      peakRssKiB = Math.max(peakRssKiB, rss);
    }
    spec.onSample?.(now - started);
  };
  const timer = setInterval(sample, sampleMs);
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  }, spec.timeoutMs);

  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, sig) => resolve([code, sig]));
  });
  const wallMs = performance.now() - started;
  clearInterval(timer);
  clearTimeout(killer);
  if (partial) stdout.push({ t: wallMs, line: partial });
  const cpuAfter = readStat('self')?.childrenCpuMs ?? 0;
  return {
    exitCode,
    signal,
    wallMs,
    cpuMs: cpuAfter - cpuBefore,
    peakRssKiB,
    hwmKiB: [...hwm.values()].reduce((a, b) => a + b, 0),
    samples,
    stdout,
    stderr,
    timedOut,
  };
}

/** Runs a short helper command (setup, not measured); throws with its stderr on failure. */
export async function runQuiet(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
) {
  const outcome = await runMeasured({
    command,
    args,
    env: options.env ?? { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    timeoutMs: options.timeoutMs ?? 30_000,
    sampleMs: 10_000,
  });
  if (outcome.exitCode !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${outcome.exitCode ?? outcome.signal}): ${outcome.stderr.trim()}`);
  }
  return outcome.stdout.map((l) => l.line).join('\n');
}

/** CPU time the whole machine spent busy (all CPUs: user, nice, system, irq, softirq, steal), ms. */
export function machineBusyMs(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return ((user + nice + system + irq + softirq + steal) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

/**
 * CPU used so far by a process tree, dead descendants included: for every
 * live process its own CPU plus what it has reaped (a reaped process's CPU,
 * with its own reaped descendants', sits in exactly one live ancestor).
 */
export function treeCpuMs(root: number): number {
  let total = 0;
  for (const pid of processTree(root)) total += totalCpuMs(pid);
  return total;
}
