import { basename } from 'node:path';
import { slotItemId } from '../../core/adapters/dynamodb/session-slots';
import type { TransferJob } from '../../core/domain/job';
import { isRunning } from '../region-control';
import { type DrillEngine, EAST, WEST } from './engine';
import { type Fault, inject, TAKEOVER_FAULTS } from './faults';
import {
  type Destination,
  type DrillEndpoints,
  type FileSizes,
  FLOWS,
  type FlowName,
  prepareRound,
  type RoundTransfer,
} from './fixtures';
import { awaitKillPoint, readJobs } from './kill-point';
import type { Random } from './random';
import { DestinationWatcher } from './watcher';
export interface RoundSettings {
  leaseTtlMs: number;
  /** A job not terminal this long after the fault is stuck. */
  stuckAfterMs: number;
  /** The normal replication lag (split-brain runs). */
  replicationLagMs?: number;
  sizes?: FileSizes;
  log: (line: string) => void;
}

export interface JobOutcome {
  jobId: string;
  flow: FlowName;
  status: string;
  errorCode?: string;
  errorMessage?: string;
  /** ms from the fault until another execution claimed the job (a new lease epoch or execution; a QUEUED job: started). */
  takeoverMs?: number;
  /** A FAILED job's re-drive (POST /jobs/{id}/redrive) and how it ended. */
  redrive?: Redrive;
}

export interface Redrive {
  jobId: string;
  status: string;
  errorCode?: string;
  errorMessage?: string;
}

export interface RoundResult {
  round: number;
  fault: Fault;
  killPoint: string;
  jobs: JobOutcome[];
  duplicates: string[];
  partials: string[];
  lost: string[];
  stuck: string[];
  tmpLeft: string[];
  /** With DynamoDB replicas: partitions seen live-owned by west in west's replica and by east in east's at once. */
  bothOwned?: number;
  /** The slowest takeover of the round's interrupted jobs. */
  takeoverMs?: number;
  takeovers: number[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
/** The drill's endpoints keep the default maxConcurrency (4); a few more are looked at in case. */
const MAX_SLOTS_SHOWN = 8;
/**
 * One round: every flow started in west through its API, a fault injected in west when a random
 * job has moved a random share of its bytes, west back after a while; then every job must end,
 * and every destination hold exactly one complete copy.
 */
export async function runRound(
  engine: DrillEngine,
  endpoints: DrillEndpoints,
  round: number,
  fault: Fault,
  random: Random,
  settings: RoundSettings,
): Promise<RoundResult> {
  const name = `r${round}-${Date.now().toString(36)}`;
  const transfers = await prepareRound(name, endpoints, engine.info, engine.s3(), random, settings.sizes);
  const watcher = new DestinationWatcher(
    transfers.flatMap((t) => t.destinations),
    () => engine.s3(),
  );
  watcher.start();
  const jobs = new Map<string, { flow: FlowName; transfer: RoundTransfer }>();
  try {
    const api = engine.api(WEST);
    for (const transfer of transfers) {
      const response = await api.post('/transfers', transfer.body);
      if (response.status !== 201)
        throw new Error(`drill: ${transfer.flow}: POST /transfers ${response.status} ${response.text}`);
      for (const job of response.body.jobs as Array<{ jobId: string }>) jobs.set(job.jobId, { flow: transfer.flow, transfer });
    }

    // The kill point: a random flow, a random share of its bytes.
    const victim = random.pick(FLOWS);
    const share = random.between(0.05, 0.95);
    const reached = await awaitKillPoint(engine, jobs, victim, transfers, share);
    const killPoint = `${victim} ${reached}`;
    const before = await readJobs(engine, WEST, [...jobs.keys()]);
    const killAt = Date.now();
    settings.log(`round ${round}: ${fault} at ${killPoint}`);
    const injected = await inject(engine, fault, random, settings);
    const recovery = injected.recovery.catch((error: Error) =>
      settings.log(`round ${round}: west did not come back: ${error.message}`),
    );

    // Every job to a terminal state, or stuck; when each interrupted one was taken over.
    const interrupted = new Map(
      [...before.entries()].filter(([, job]) => job && !TERMINAL.has(job.status)).map(([id, job]) => [id, job as TransferJob]),
    );
    const takeover = new Map<string, number>();
    const partitions = [...new Set([...before.values()].flatMap((job) => (job ? [job.partitionId] : [])))];
    const bothOwned = new Set<string>();
    let last = new Map<string, TransferJob | undefined>();
    const deadline = killAt + settings.stuckAfterMs;
    for (;;) {
      last = await readJobs(engine, EAST, [...jobs.keys()]).catch(() => last);
      for (const [id, was] of interrupted) {
        const now = last.get(id);
        if (takeover.has(id) || !now) continue;
        // Claimed by another execution (a new epoch or execution); a job that had none yet, started.
        const notStarted = was.status === 'QUEUED' || was.status === 'RECEIVED';
        if (
          now.fenceEpoch !== was.fenceEpoch ||
          now.runningExecutionId !== was.runningExecutionId ||
          (notStarted && now.status !== was.status)
        )
          takeover.set(id, Date.now() - killAt);
      }
      if (engine.stack.replication) for (const id of await splitBrains(engine, partitions)) bothOwned.add(id);
      const open = [...jobs.keys()].filter((id) => !TERMINAL.has(last.get(id)?.status ?? ''));
      if (open.length === 0 || Date.now() > deadline) break;
      await sleep(200);
    }
    await recovery;
    await engine.stack.replication?.settled();
    last = await readJobs(engine, EAST, [...jobs.keys()]).catch(() => last);
    // FAILED passes only as something the customer can act on: each is re-driven, and must then deliver.
    const failed = [...jobs.keys()].filter((id) => last.get(id)?.status === 'FAILED');
    const redrives = await redriveAll(engine, failed, settings.stuckAfterMs);
    await engine.stack.replication?.settled();
    await watcher.stop();

    const outcomes: JobOutcome[] = [...jobs.entries()].map(([jobId, { flow }]) => {
      const job = last.get(jobId);
      return {
        jobId,
        flow,
        status: job?.status ?? 'MISSING',
        ...(job?.errorCode ? { errorCode: job.errorCode, errorMessage: job.errorMessage } : {}),
        ...(TAKEOVER_FAULTS.includes(fault) && takeover.has(jobId) ? { takeoverMs: takeover.get(jobId) } : {}),
        ...(redrives.has(jobId) ? { redrive: redrives.get(jobId) } : {}),
      };
    });
    const result: RoundResult = {
      round,
      fault,
      killPoint,
      jobs: outcomes,
      duplicates: watcher.sightings.filter((s) => s.kind !== 'partial').map((s) => `${s.location}: ${s.detail}`),
      partials: watcher.sightings.filter((s) => s.kind === 'partial').map((s) => `${s.location}: ${s.detail}`),
      lost: [],
      stuck: [
        ...(await Promise.all(
          outcomes
            .filter((o) => !TERMINAL.has(o.status) && o.status !== 'MISSING')
            .map(async (o) => `${o.flow} ${o.jobId} ${o.status}${await stuckDetail(engine, last.get(o.jobId))}`),
        )),
        ...outcomes
          .filter((o) => o.redrive && !TERMINAL.has(o.redrive.status) && o.redrive.status !== 'REFUSED')
          .map((o) => `${o.flow} ${o.jobId}'s re-drive ${o.redrive?.jobId} ${o.redrive?.status}`),
      ],
      tmpLeft: await watcher.leftoverTmp(),
      takeovers: outcomes.flatMap((o) => (o.takeoverMs !== undefined ? [o.takeoverMs] : [])),
      ...(engine.stack.replication ? { bothOwned: bothOwned.size } : {}),
    };
    result.takeoverMs = result.takeovers.length ? Math.max(...result.takeovers) : undefined;
    for (const outcome of outcomes) {
      if (outcome.status === 'MISSING') result.lost.push(`${outcome.flow} ${outcome.jobId}: the job is gone`);
    }
    for (const transfer of transfers) {
      for (const destination of transfer.destinations) {
        const job = jobFor(transfer, destination, jobs, last);
        const redrive = job ? redrives.get(job.jobId) : undefined;
        const held = await watcher.holds(destination);
        const where = destination.bucket ? `s3://${destination.bucket}/${destination.location}` : destination.location;
        if (job?.status === 'SUCCEEDED' && held !== 'ok')
          result.lost.push(`${transfer.flow} ${where}: job SUCCEEDED, copy ${held}`);
        if (redrive?.status === 'SUCCEEDED' && held !== 'ok')
          result.lost.push(`${transfer.flow} ${where}: re-drive SUCCEEDED, copy ${held}`);
        if (redrive && (TERMINAL.has(redrive.status) || redrive.status === 'REFUSED') && redrive.status !== 'SUCCEEDED')
          result.lost.push(
            `${transfer.flow} ${where}: FAILED (${job?.errorCode}), and its re-drive ${redrive.status} (${redrive.errorCode}: ${redrive.errorMessage})`,
          );
        if (held === 'wrong') result.partials.push(`${where}: not the source's bytes at the end`);
        const writes = destination.bucket ? (engine.s3Writes.get(`${destination.bucket}/${destination.location}`) ?? 0) : 0;
        if (writes > 1) result.duplicates.push(`${where}: written ${writes} times`);
      }
    }
    return result;
  } finally {
    await watcher.stop().catch(() => undefined);
  }
}

/**
 * What a stuck job was waiting for, as east's replica has it: its epoch, execution and last write,
 * and its partition's lease (holder, epoch, executions, expiry). A live lease keeps the reconciler away.
 */
async function stuckDetail(engine: DrillEngine, job: TransferJob | undefined): Promise<string> {
  if (!job) return '';
  const now = Date.now();
  const lease = await engine
    .stores(EAST)
    .leases.get(job.partitionId)
    .catch(() => undefined);
  const leaseText = lease
    ? `lease ${lease.ownerRegion} epoch ${lease.epoch} ${lease.expiresAt === 0 ? 'released' : `expires in ${lease.expiresAt - now} ms`}, heartbeat ${now - lease.heartbeatAt} ms ago, executions [${lease.executions.join(', ')}]`
    : 'no lease';
  const slots = await heldSlots(engine, [job.sourceEndpointId, job.targetEndpointId], now);
  const bytes = job.bytesTotal !== undefined ? `, ${job.bytesTransferred ?? 0}/${job.bytesTotal} bytes` : '';
  return ` (epoch ${job.fenceEpoch ?? '-'}, execution ${job.runningExecutionId ?? '-'}, region ${job.executionRegion ?? '-'}, written ${now - Date.parse(job.updatedAt)} ms ago${bytes}${job.lastError ? `, last error ${job.lastError.code}: ${job.lastError.message}` : ''}; ${leaseText}${slots})`;
}

/**
 * The partner session slots (maxConcurrency) of these endpoints held right now, with who holds them:
 * a session waiting for a slot writes nothing, so a job behind a killed holder's slot looks idle.
 */
async function heldSlots(engine: DrillEngine, endpointIds: string[], now: number): Promise<string> {
  const held: string[] = [];
  for (const endpointId of new Set(endpointIds)) {
    for (let slot = 0; slot < MAX_SLOTS_SHOWN; slot++) {
      const item = (await engine
        .stores(EAST)
        .leases.get(slotItemId(endpointId, slot))
        .catch(() => undefined)) as (Record<string, unknown> & { expiresAt?: number }) | undefined;
      if (!item?.expiresAt || item.expiresAt < now) continue;
      // The holder is `<region> <host>:<pid> <purpose>` (session-gate.ts): say whether its process still runs.
      const pid = Number(/:(\d+) /.exec(String(item.holder))?.[1]);
      const state = Number.isInteger(pid) && pid > 0 ? (isRunning(pid) ? 'running' : 'dead') : 'unknown';
      held.push(`${endpointId}#${slot} by ${item.holder} (${state}) for ${item.expiresAt - now} ms more`);
    }
  }
  return held.length ? `; session slots held: ${held.join(', ')}` : '';
}

/** Partitions each region's replica says it owns, live, right now: both regions believe the partition is theirs. */
async function splitBrains(engine: DrillEngine, partitions: string[]): Promise<string[]> {
  const now = Date.now();
  const owned = async (region: string) => {
    const leases = await Promise.all(partitions.map((id) => engine.stores(region).leases.get(id)));
    return new Set(leases.filter((l) => l && l.ownerRegion === region && l.expiresAt >= now).map((l) => l?.partitionId));
  };
  const [west, east] = await Promise.all([owned(WEST), owned(EAST)]).catch(() => [new Set(), new Set()]);
  return partitions.filter((id) => west.has(id) && east.has(id));
}

/** Re-drives each job through east's API and follows the new jobs until they end (or the deadline). */
async function redriveAll(engine: DrillEngine, ids: string[], timeoutMs: number): Promise<Map<string, Redrive>> {
  const redrives = new Map<string, Redrive>();
  for (const id of ids) {
    const response = await engine.api(EAST).post(`/jobs/${id}/redrive`);
    redrives.set(
      id,
      response.status === 200 || response.status === 201
        ? { jobId: response.body.jobId, status: response.body.status }
        : { jobId: '-', status: 'REFUSED', errorCode: String(response.status), errorMessage: response.text },
    );
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = [...redrives.values()].filter((r) => r.jobId !== '-' && !TERMINAL.has(r.status));
    if (open.length === 0 || Date.now() > deadline) return redrives;
    const now = await readJobs(
      engine,
      EAST,
      open.map((r) => r.jobId),
    ).catch(() => new Map<string, TransferJob | undefined>());
    for (const redrive of open) {
      const job = now.get(redrive.jobId);
      if (!job) continue;
      redrive.status = job.status;
      if (job.errorCode) Object.assign(redrive, { errorCode: job.errorCode, errorMessage: job.errorMessage });
    }
    await sleep(200);
  }
}

/** The job that delivers a destination: the transfer's only one, or (a batch) the one of the same file name. */
function jobFor(
  transfer: RoundTransfer,
  destination: Destination,
  jobs: Map<string, { transfer: RoundTransfer }>,
  last: Map<string, TransferJob | undefined>,
): TransferJob | undefined {
  const ids = [...jobs.entries()].filter(([, j]) => j.transfer === transfer).map(([id]) => id);
  if (ids.length === 1) return last.get(ids[0] as string);
  return ids.map((id) => last.get(id)).find((job) => job && basename(job.sourcePath) === basename(destination.location));
}
