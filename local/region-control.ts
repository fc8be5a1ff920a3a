/**
 * A local region's processes (events, step-functions, api; see region-process.ts)
 * as one unit the stack can start, kill and restart: what the failover drill
 * (local/drill/) needs to take a region down in the middle of a transfer.
 *
 * What a region's death means locally: its three processes die (SIGKILL, or
 * SIGTERM for an orderly stop), and with them whatever they held in memory
 * (queued messages, running executions). The workers the step-functions process
 * started (ECS tasks, locally its children) die with it by default; in AWS a
 * region can also lose its control plane while Fargate tasks keep running, so
 * `workers: 'orphan'` leaves them running without their execution (they go on
 * heartbeating their lease and may commit: fencing has to cope with both).
 */
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { ChildService } from './child-service';
import type { EventsProcessMessage, RegionProcessOptions, RegionRole } from './region-process';
import type { RegionFile } from './service-config';

/** What can be killed in a region: one of its processes, or the workers its step-functions process started. */
export type RegionTarget = RegionRole | 'worker';

export interface KillOptions {
  /** Default: every process of the region and its workers. */
  roles?: RegionTarget[];
  /**
   * When the step-functions process dies by SIGKILL: 'kill' (default) kills its workers too (the region's
   * compute is gone); 'orphan' leaves them running, parentless, as Fargate tasks that outlive their execution.
   * (On SIGTERM the process stops its workers itself, as ECS stops a service's tasks.)
   */
  workers?: 'kill' | 'orphan';
}

export interface KillReport {
  region: string;
  signal: NodeJS.Signals;
  /** Processes signalled, by role ('worker' once per worker). */
  killed: RegionTarget[];
  /** Worker pids left running without a parent ('orphan'). */
  orphans: number[];
}

/** The URLs a region's processes listen on. */
export interface RegionEndpoints {
  sqs: string;
  eventBridge: string;
  stepFunctions: string;
  api: string;
}

type Ports = NonNullable<RegionProcessOptions['ports']>;

export interface RegionLauncher {
  /** Starts one process of a region with this environment, listening on these ports (0 or absent: any). */
  launch<Ready>(
    role: RegionRole,
    regionFile: RegionFile,
    environment: Record<string, string>,
    ports: Ports,
  ): Promise<ChildService<Ready>>;
  /** The function environment of a region whose events process listens at these URLs (not known before it starts). */
  environment(region: string, events: { sqs: string; eventBridge: string } | undefined): Record<string, string>;
  /** What the events process gets besides (visibility scale, schedule tick). */
  eventsEnvironment: Record<string, string>;
  /** Called whenever a region's processes (re)started, with their URLs. */
  onStarted(region: string, regionFile: RegionFile, endpoints: RegionEndpoints, events: ChildService<unknown>): void;
}

const ROLES: RegionRole[] = ['events', 'step-functions', 'api'];

const portOf = (url: string | undefined) => (url ? Number(new URL(url).port) : undefined);
const alive = (service: ChildService<unknown> | undefined) =>
  service !== undefined && service.child.exitCode === null && service.child.signalCode === null;

class LocalRegion {
  readonly services: Partial<Record<RegionRole, ChildService<unknown>>> = {};
  endpoints: Partial<RegionEndpoints> = {};
  readonly orphans = new Set<number>();

  constructor(
    readonly region: string,
    readonly regionFile: RegionFile,
    private readonly launcher: RegionLauncher,
  ) {}

  /**
   * Starts whichever of the three processes are not running, on the ports they had (so the URLs in
   * .eft/local.json and in the other processes' environment stay right). If a port is taken meanwhile,
   * the process gets another and the region's other processes restart to learn it.
   */
  async start(): Promise<void> {
    const before = { ...this.endpoints };
    await this.startMissing();
    const moved = (Object.keys(before) as Array<keyof RegionEndpoints>).some((k) => before[k] !== this.endpoints[k]);
    if (moved) {
      // Every process was given the others' URLs at its start: restart them all with the new ones.
      await this.stopAll('SIGTERM');
      await this.startMissing();
    }
    const events = this.services.events;
    if (events) this.launcher.onStarted(this.region, this.regionFile, this.endpoints as RegionEndpoints, events);
  }

  private async startMissing(): Promise<void> {
    const { launcher } = this;
    let events = this.services.events as ChildService<{ sqs: string; eventBridge: string }> | undefined;
    let eventsStarted = false;
    if (!alive(events)) {
      events = await this.launchWithFallback<{ sqs: string; eventBridge: string }>(
        'events',
        { ...launcher.environment(this.region, undefined), ...launcher.eventsEnvironment },
        { sqs: portOf(this.endpoints.sqs), eventBridge: portOf(this.endpoints.eventBridge) },
      );
      this.services.events = events;
      this.endpoints.sqs = events.ready.sqs;
      this.endpoints.eventBridge = events.ready.eventBridge;
      eventsStarted = true;
    }
    const environment = launcher.environment(this.region, {
      sqs: this.endpoints.sqs ?? '',
      eventBridge: this.endpoints.eventBridge ?? '',
    });
    if (!alive(this.services['step-functions'])) {
      const sfn = await this.launchWithFallback<{ stepFunctions: string }>('step-functions', environment, {
        stepFunctions: portOf(this.endpoints.stepFunctions),
      });
      this.services['step-functions'] = sfn;
      this.endpoints.stepFunctions = sfn.ready.stepFunctions;
    }
    if (eventsStarted && events) await beginEventSources(events, { AWS_ENDPOINT_URL_SFN: this.endpoints.stepFunctions ?? '' });
    if (!alive(this.services.api)) {
      const api = await this.launchWithFallback<{ api: string }>(
        'api',
        { ...environment, AWS_ENDPOINT_URL_SFN: this.endpoints.stepFunctions ?? '' },
        { api: portOf(this.endpoints.api) },
      );
      this.services.api = api;
      this.endpoints.api = api.ready.api;
    }
  }

  /** The old port first; if something else took it meanwhile, any port. */
  private async launchWithFallback<Ready>(role: RegionRole, environment: Record<string, string>, ports: Ports) {
    const wanted = Object.values(ports).some((port) => port !== undefined);
    try {
      return await this.launcher.launch<Ready>(role, this.regionFile, environment, ports);
    } catch (error) {
      if (!wanted || !/EADDRINUSE/.test(String((error as Error).message))) throw error;
      return this.launcher.launch<Ready>(role, this.regionFile, environment, {});
    }
  }

  async kill(signal: NodeJS.Signals, options: KillOptions = {}): Promise<KillReport> {
    const roles = options.roles ?? [...ROLES, 'worker'];
    const report: KillReport = { region: this.region, signal, killed: [], orphans: [] };
    const sfn = this.services['step-functions'];
    const workers = alive(sfn) && sfn?.child.pid ? await childPids(sfn.child.pid) : [];
    const killWorkers =
      roles.includes('worker') || (roles.includes('step-functions') && signal === 'SIGKILL' && options.workers !== 'orphan');
    const deaths: Array<Promise<unknown>> = [];
    if (killWorkers) {
      for (const pid of workers) {
        if (signalPid(pid, signal)) report.killed.push('worker');
      }
    } else if (roles.includes('step-functions') && signal === 'SIGKILL') {
      for (const pid of workers) this.orphans.add(pid);
      report.orphans.push(...workers);
    }
    for (const role of ROLES) {
      const service = this.services[role];
      if (!roles.includes(role) || !service || !alive(service)) continue;
      const closed = once(service.child, 'close');
      service.child.kill(signal);
      report.killed.push(role);
      deaths.push(closed);
      delete this.services[role];
    }
    await Promise.all(deaths);
    return report;
  }

  private async stopAll(signal: NodeJS.Signals): Promise<void> {
    await this.kill(signal, { roles: ROLES });
  }

  /** Stops the region for good, orphaned workers included (nothing outlives the stack). */
  async close(): Promise<void> {
    // The api first, then the executions, then the queues they use: in reverse order of starting.
    for (const role of [...ROLES].reverse()) await this.services[role]?.close();
    for (const pid of this.orphans) signalPid(pid, 'SIGKILL');
    this.orphans.clear();
  }
}

/**
 * The regions of a local stack, with the controls the drill uses. The stack starts them through
 * `start` and stops them through `close`; `killRegion` and `restartRegion` are what LocalStack exposes.
 */
export class RegionControl {
  private readonly regions = new Map<string, LocalRegion>();

  constructor(private readonly launcher: RegionLauncher) {}

  async start(region: string, regionFile: RegionFile): Promise<RegionEndpoints> {
    let local = this.regions.get(region);
    if (!local) {
      local = new LocalRegion(region, regionFile, this.launcher);
      this.regions.set(region, local);
    }
    await local.start();
    return local.endpoints as RegionEndpoints;
  }

  killRegion(region: string, signal: NodeJS.Signals, options?: KillOptions): Promise<KillReport> {
    return this.regionOf(region).kill(signal, options);
  }

  /** Starts again whatever of the region is not running; its URLs stay the same when their ports are free. */
  async restartRegion(region: string): Promise<RegionEndpoints> {
    const local = this.regionOf(region);
    await local.start();
    return local.endpoints as RegionEndpoints;
  }

  /** Pids of the workers a region's step-functions process is running now (its children). */
  async workerPids(region: string): Promise<number[]> {
    const pid = this.regionOf(region).services['step-functions']?.child.pid;
    return pid ? childPids(pid) : [];
  }

  /** Orphaned workers of a region still running (after a SIGKILL with workers: 'orphan'). */
  liveOrphans(region: string): number[] {
    return [...this.regionOf(region).orphans].filter(isRunning);
  }

  async close(): Promise<void> {
    for (const local of [...this.regions.values()].reverse()) await local.close();
  }

  private regionOf(region: string): LocalRegion {
    const local = this.regions.get(region);
    if (!local) throw new Error(`no local region ${region}`);
    return local;
  }
}

/** Sends a signal (0: only asks whether it lives); false when the process is gone. */
function signalPid(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether a process runs (a zombie, dead but not yet reaped, does not: no reaper may come in a container). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    // No /proc entry: gone (or no /proc on this system: ask the kernel).
    return existsSync('/proc/self') ? false : signalPid(pid, 0);
  }
}

/**
 * The children of a process, from /proc (Linux): the step-functions process spawns its workers
 * itself, so the stack learns their pids only this way. Empty where there is no /proc.
 */
export async function childPids(parent: number): Promise<number[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const children: number[] = [];
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => {
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
        // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === parent) children.push(Number(entry));
      }),
  );
  return children;
}

/** Starts an events process's event sources, once the endpoints its functions call are known. */
export async function beginEventSources(events: ChildService<unknown>, environment: Record<string, string>): Promise<void> {
  const { child } = events;
  const started = new Promise<void>((resolve, reject) => {
    const onMessage = (message: EventsProcessMessage) => {
      if (message.type !== 'started') return;
      child.off('exit', onExit);
      child.off('message', onMessage);
      resolve();
    };
    const onExit = () => reject(new Error('the events process exited before its event sources started'));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  child.send({ type: 'start', environment } satisfies EventsProcessMessage);
  await started;
}
