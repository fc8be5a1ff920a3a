/**
 * Triggers (issue 14, "Measured"): how long an object or a file waits between
 * appearing and being delivered, when nobody calls POST /transfers.
 *
 * Routes (push): a route from the customer's outbox bucket (an S3 endpoint on
 * customer-a-outbox) to (a) the customer's inbox bucket (the bench's S3
 * endpoint) and (b) the partner (the OpenSSH sshd). 1 KiB objects are put one
 * after another at a fixed pace (100 every 500 ms to S3; 40 every 4 s to SFTP,
 * whose jobs each start a worker) and, for the S3 target, in a burst; each is
 * timed from its PutObject's answer to its job's completedAt, split at the
 * job's createdAt (event → job: s3rver's notification → the local EventBridge
 * → SQS → ingestS3Events → createJobsForFiles) and startedAt (job → RUNNING:
 * StartExecution and the state machine's StartTransfer task; then the
 * transfer and its verification).
 *
 * Schedules (pull): a schedule on the partner folder, rate = the engine's
 * tick (1 s), minimumFileAgeSeconds 0, afterTransfer MOVE, into the inbox
 * bucket. Files are written one after another (and in a burst); each is timed
 * from the end of its write to its job's completedAt, split at the poll that
 * first saw it (the sighting's firstSeenAt), its job's createdAt (the later
 * poll that found it unchanged) and startedAt.
 *
 * The timestamps are the engine's own (the jobs table, the trigger-state
 * table), on the same clock as the bench's: how often the bench looks at them
 * (every 250 ms, through engine.stores, not the API) does not enter the
 * numbers, only how soon the scenario ends.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { deriveIdempotencyKey, jobIdFor, type TransferJob } from '../core/domain/job';
import { REGIONS } from '../local/stack';
import { type BenchContext, note, remainingMs } from './context';
import { BUCKET_OWNER, CUSTOMER, type Engine } from './engine';
import { waitForQuiet } from './measure';
import { machineBusyMs, treeCpuMs } from './proc';
import { log, percentile, round, sleep } from './util';

export const TRIGGER_TICK_SECONDS = 1;
const OUTBOX = 'customer-a-outbox';
const OUTBOX_PREFIX = 'bench-routes/';
const OBJECTS = 100;
const OBJECT_SIZE = 1024;
/** Between one object's PutObject answer and the next put, for the S3 target (its jobs run in the region process). */
const ROUTE_PACE_MS = 500;
/**
 * The SFTP target's jobs each start a worker process (locally `node --import tsx fargate-worker/main.ts`:
 * seconds of CPU on 2 shared cores). At 2 objects/s the workers queued without bound (first run: p50
 * 191 s); slower than one worker's start, and fewer objects, so the run measures latency, not backlog.
 */
const SFTP_OBJECTS = 40;
const SFTP_PACE_MS = 4000;
const BURST_CONCURRENCY = 10;
const PULL_FILES = 20;
/** Between pulled files: not a multiple of the tick, so files land at every phase of it. */
const PULL_PACE_MS = 1300;
const FOLLOW_MS = 250;
/** How long to wait for the machine's other load to settle before each run (it is shared: not for ever). */
const QUIET_MAX_MS = 15_000;
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/** One object or file: when it was complete, and its job's timestamps (epoch ms). */
export interface Sample {
  name: string;
  readyAt: number;
  jobId?: string;
  firstSeenAt?: number;
  createdAt?: number;
  startedAt?: number;
  completedAt?: number;
  status?: string;
  error?: string;
  /** Where its execution ran, and how many times StartTransfer took it (the partition lease's retries show here). */
  executionRegion?: string;
  attempts?: number;
}

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface TriggerResult {
  kind: 'route' | 'schedule';
  variant: string;
  target: string;
  pace: string;
  count: number;
  succeeded: number;
  failed: number;
  /** ready → SUCCEEDED, and its parts, in ms */
  total: Percentiles;
  parts: Record<string, Percentiles>;
  wallSeconds: number;
  /** Every object or file: epoch ms of ready, first seen (schedules), job created, RUNNING, ended; status. */
  samples: Sample[];
  /** Executions per region (both regions ingest every event; either may claim a schedule's run). */
  regions: Record<string, number>;
  /**
   * Jobs that waited ≥ 14 s between created and RUNNING: StartTransfer's LeaseHeldError retry (15 s, then
   * ×1.5) while the other region held the partition (customer, source, target) for an earlier job.
   */
  leaseWaits: number;
  /** CPU of the engine's processes and the bench's (dynalite runs in it) per object or file, in ms */
  engineCpuMsPerItem: number;
  /** CPU the machine's other processes used meanwhile, in cores (of 2) */
  otherCores: number;
}

/** CPU counters at the start of a run: the bench's process tree (the engine) and the whole machine. */
function cpuMark() {
  return { tree: treeCpuMs(process.pid), machine: machineBusyMs(), at: Date.now() };
}

function cpuSince(mark: ReturnType<typeof cpuMark>, items: number) {
  const tree = treeCpuMs(process.pid) - mark.tree;
  const other = Math.max(0, machineBusyMs() - mark.machine - tree);
  return {
    engineCpuMsPerItem: round(tree / Math.max(1, items), 1),
    otherCores: round(other / Math.max(1, Date.now() - mark.at), 2),
  };
}

function stats(values: number[]): Percentiles {
  return {
    n: values.length,
    p50: Math.round(percentile(values, 50)),
    p95: Math.round(percentile(values, 95)),
    p99: Math.round(percentile(values, 99)),
    max: Math.round(Math.max(...values)),
  };
}

const ms = (iso?: string) => (iso ? Date.parse(iso) : undefined);

async function activeS3Endpoint(engine: Engine, name: string, bucket: string, prefix: string): Promise<string> {
  const created = await engine.api.post('/endpoints', {
    type: 'S3',
    name,
    direction: 'OUTBOUND',
    s3: { bucket, prefix, region: REGIONS.west },
  });
  if (created.status !== 201) throw new Error(`POST /endpoints: ${created.status} ${created.text}`);
  const id = created.body.id as string;
  const validated = await engine.api.post(`/endpoints/${id}/validate`);
  if (validated.body?.endpoint?.status !== 'ACTIVE') throw new Error(`${name} did not validate: ${validated.text}`);
  return id;
}

async function post(engine: Engine, path: string, body: Record<string, unknown>): Promise<string> {
  const created = await engine.api.post(path, body);
  if (created.status !== 201) throw new Error(`POST ${path}: ${created.status} ${created.text}`);
  return created.body.id as string;
}

/** Reads the jobs not yet ended (one GetItem each) until all have, or `deadline`. */
async function followJobs(engine: Engine, samples: Sample[], deadline: number, until: () => boolean = () => true) {
  for (;;) {
    const open = samples.filter((s) => s.jobId && !TERMINAL.has(s.status ?? ''));
    for (let i = 0; i < open.length; i += 10) {
      await Promise.all(
        open.slice(i, i + 10).map(async (s) => {
          const job = (await engine.stores.jobs.get({ customerId: CUSTOMER, jobId: s.jobId as string })) as
            | TransferJob
            | undefined;
          if (!job) return;
          s.status = job.status;
          s.createdAt = ms(job.createdAt);
          s.startedAt = ms(job.startedAt);
          s.completedAt = ms(job.completedAt);
          if (job.executionRegion) s.executionRegion = job.executionRegion;
          s.attempts = job.attempts;
          if (job.lastError) s.error = `${job.lastError.code}: ${job.lastError.message}`.slice(0, 300);
        }),
      );
    }
    const done = samples.every((s) => s.jobId && TERMINAL.has(s.status ?? ''));
    if ((done && until()) || Date.now() > deadline) return;
    await sleep(FOLLOW_MS);
  }
}

function summarise(
  ctx: BenchContext,
  base: Omit<
    TriggerResult,
    | 'samples'
    | 'regions'
    | 'leaseWaits'
    | 'count'
    | 'succeeded'
    | 'failed'
    | 'total'
    | 'parts'
    | 'wallSeconds'
    | 'engineCpuMsPerItem'
    | 'otherCores'
  >,
  samples: Sample[],
  mark: ReturnType<typeof cpuMark>,
): TriggerResult {
  const wallMs = Date.now() - mark.at;
  const ok = samples.filter((s) => s.status === 'SUCCEEDED' && s.createdAt && s.startedAt && s.completedAt);
  const failed = samples.filter((s) => s.status && s.status !== 'SUCCEEDED').length;
  const missing = samples.length - ok.length - failed;
  if (failed + missing > 0) {
    const errors = [
      ...new Set(samples.filter((s) => s.status && s.status !== 'SUCCEEDED').map((s) => `${s.status} ${s.error ?? ''}`)),
    ];
    note(
      ctx,
      `triggers, ${base.kind} ${base.variant} → ${base.target}: ${failed} jobs ended other than SUCCEEDED (${errors.join('; ')}), ${missing} had not ended`,
    );
  }
  const parts: Record<string, Percentiles> = {};
  if (base.kind === 'route') {
    parts['event → job created'] = stats(ok.map((s) => (s.createdAt as number) - s.readyAt));
  } else {
    parts['written → first seen by a poll'] = stats(ok.map((s) => (s.firstSeenAt ?? Number.NaN) - s.readyAt));
    parts['first seen → job created (next poll)'] = stats(ok.map((s) => (s.createdAt as number) - (s.firstSeenAt ?? Number.NaN)));
  }
  parts['job created → RUNNING'] = stats(ok.map((s) => (s.startedAt as number) - (s.createdAt as number)));
  parts['RUNNING → SUCCEEDED'] = stats(ok.map((s) => (s.completedAt as number) - (s.startedAt as number)));
  const result: TriggerResult = {
    ...base,
    count: samples.length,
    succeeded: ok.length,
    failed,
    total: stats(ok.map((s) => (s.completedAt as number) - s.readyAt)),
    parts,
    wallSeconds: round(wallMs / 1000, 1),
    ...cpuSince(mark, samples.length),
    samples,
    regions: Object.fromEntries(
      [...new Set(samples.map((s) => s.executionRegion ?? 'none'))].map((r) => [
        r,
        samples.filter((s) => (s.executionRegion ?? 'none') === r).length,
      ]),
    ),
    leaseWaits: ok.filter((s) => (s.startedAt as number) - (s.createdAt as number) >= 14_000).length,
  };
  log(
    `  ${base.kind} ${base.variant} → ${base.target}: ${ok.length}/${samples.length} SUCCEEDED; p50 ${result.total.p50} ms, p95 ${result.total.p95}, p99 ${result.total.p99}, max ${result.total.max}; ${Object.entries(
      parts,
    )
      .map(([k, v]) => `${k} p50 ${v.p50}/p99 ${v.p99}`)
      .join(
        '; ',
      )}; engine CPU ${result.engineCpuMsPerItem} ms each, other processes ${result.otherCores} cores; executions by region ${JSON.stringify(result.regions)}, ${result.leaseWaits} waited ≥ 14 s for the partition lease`,
  );
  return result;
}

export async function runTriggers(ctx: BenchContext, engine: Engine): Promise<TriggerResult[]> {
  const results: TriggerResult[] = [];
  const outbox = await activeS3Endpoint(engine, 'bench outbox (routes)', OUTBOX, OUTBOX_PREFIX);
  const targets = [
    { name: 'S3 (inbox bucket)', folder: 'to-s3', endpointId: engine.s3EndpointId, objects: OBJECTS, paceMs: ROUTE_PACE_MS },
    {
      name: 'SFTP (partner sshd)',
      folder: 'to-sftp',
      endpointId: engine.sftpEndpointId,
      objects: SFTP_OBJECTS,
      paceMs: SFTP_PACE_MS,
    },
  ];
  for (const t of targets) {
    await post(engine, '/routes', {
      name: `bench route ${t.folder}`,
      source: { endpointId: outbox, path: t.folder },
      target: { endpointId: t.endpointId, path: `routed-${t.folder}`, createDirectories: true },
    });
  }
  const runs: Array<{ target: (typeof targets)[number]; variant: string; burst: boolean }> = [
    { target: targets[0] as (typeof targets)[number], variant: 'paced', burst: false },
    { target: targets[1] as (typeof targets)[number], variant: 'paced', burst: false },
    { target: targets[0] as (typeof targets)[number], variant: 'burst', burst: true },
  ];
  for (const run of runs) {
    if (remainingMs(ctx) < 240_000) {
      note(ctx, `triggers: route ${run.variant} → ${run.target.name} skipped, the time budget is nearly used up`);
      continue;
    }
    await waitForQuiet(ctx, `route ${run.variant} → ${run.target.name}`, QUIET_MAX_MS);
    results.push(await routeRun(ctx, engine, outbox, run.target, run.variant, run.burst));
  }
  if (remainingMs(ctx) < 180_000) note(ctx, 'triggers: the schedule runs skipped, the time budget is nearly used up');
  else {
    for (const burst of [false, true]) {
      await waitForQuiet(ctx, `schedule ${burst ? 'burst' : 'paced'}`, QUIET_MAX_MS);
      results.push(await scheduleRun(ctx, engine, burst));
    }
  }
  return results;
}

async function routeRun(
  ctx: BenchContext,
  engine: Engine,
  outbox: string,
  target: { name: string; folder: string; endpointId: string; objects: number; paceMs: number },
  variant: string,
  burst: boolean,
): Promise<TriggerResult> {
  const pace = burst
    ? `${BURST_CONCURRENCY} PutObjects at a time`
    : `one PutObject every ${target.paceMs} ms after the last answered`;
  log(`triggers: route → ${target.name}, ${target.objects} objects of ${OBJECT_SIZE} B, ${pace}`);
  const samples: Sample[] = [];
  const mark = cpuMark();
  const putOne = async (i: number) => {
    const name = `${variant}-${String(i).padStart(3, '0')}.bin`;
    const body = randomBytes(OBJECT_SIZE);
    const put = await engine.s3.send(
      new PutObjectCommand({
        Bucket: OUTBOX,
        Key: `${OUTBOX_PREFIX}${target.folder}/${name}`,
        Body: body,
        ExpectedBucketOwner: BUCKET_OWNER,
      }),
    );
    const readyAt = Date.now();
    const version = put.VersionId ?? (put.ETag ?? '').replace(/"/g, '');
    // The job id ingestion derives for this object version (createJobsForFiles' idempotency key).
    const jobId = jobIdFor(
      CUSTOMER,
      deriveIdempotencyKey({
        sourceEndpointId: outbox,
        sourcePath: `${target.folder}/${name}`,
        targetEndpointId: target.endpointId,
        targetPath: `routed-${target.folder}/${name}`,
        file: { size: OBJECT_SIZE, version },
      }),
    );
    samples.push({ name, readyAt, jobId });
  };
  let putting = true;
  const following = followJobs(engine, samples, Date.now() + Math.min(600_000, remainingMs(ctx) - 90_000), () => !putting);
  if (burst) {
    let next = 0;
    await Promise.all(
      Array.from({ length: BURST_CONCURRENCY }, async () => {
        while (next < target.objects) await putOne(next++);
      }),
    );
  } else {
    for (let i = 0; i < target.objects; i++) {
      await putOne(i);
      await sleep(target.paceMs);
    }
  }
  putting = false;
  await following;
  return summarise(ctx, { kind: 'route', variant, target: target.name, pace }, samples, mark);
}

async function scheduleRun(ctx: BenchContext, engine: Engine, burst: boolean): Promise<TriggerResult> {
  const variant = burst ? 'burst' : 'paced';
  const folder = `pull-${variant}`;
  const dir = join(ctx.remoteDir, folder);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const scheduleId = await post(engine, '/schedules', {
    name: `bench pull ${variant}`,
    source: { endpointId: engine.sftpEndpointId, path: folder },
    target: { endpointId: engine.s3EndpointId, path: `pulled-${variant}`, createDirectories: true },
    timing: { kind: 'rate', everySeconds: TRIGGER_TICK_SECONDS },
    minimumFileAgeSeconds: 0,
    afterTransfer: { action: 'MOVE', archivePath: `${folder}-archive` },
  });
  const pace = burst ? `${PULL_FILES} files written at once` : `one file every ${PULL_PACE_MS} ms`;
  log(
    `triggers: schedule every ${TRIGGER_TICK_SECONDS} s on the partner folder, ${PULL_FILES} files of ${OBJECT_SIZE} B, ${pace}`,
  );
  const sightings = engine.stores.sightings;
  const samples = new Map<string, Sample>();
  let writing = true;
  const deadline = Date.now() + Math.min(300_000, remainingMs(ctx) - 60_000);
  // The sightings name each file's job once a poll takes it (and are removed after the MOVE): read them often.
  const watching = (async () => {
    while (Date.now() < deadline) {
      for (const s of await sightings.list(scheduleId)) {
        const sample = samples.get(s.path);
        if (!sample) continue;
        sample.firstSeenAt = Date.parse(s.firstSeenAt);
        if (s.jobId) sample.jobId ??= s.jobId;
      }
      if (!writing && [...samples.values()].every((s) => s.jobId)) return;
      await sleep(100);
    }
  })();
  const mark = cpuMark();
  const writeOne = async (i: number) => {
    const name = `${variant}-${String(i).padStart(3, '0')}.dat`;
    await writeFile(join(dir, name), randomBytes(OBJECT_SIZE));
    samples.set(`${folder}/${name}`, { name, readyAt: Date.now() });
  };
  if (burst) await Promise.all(Array.from({ length: PULL_FILES }, (_, i) => writeOne(i)));
  else {
    for (let i = 0; i < PULL_FILES; i++) {
      await writeOne(i);
      await sleep(PULL_PACE_MS);
    }
  }
  writing = false;
  await watching;
  const list = [...samples.values()];
  await followJobs(engine, list, deadline);
  // Stop polling the folder: its ticks must not load the engine under whatever runs next.
  await engine.api.patch(`/schedules/${scheduleId}`, { enabled: false }).catch(() => undefined);
  return summarise(ctx, { kind: 'schedule', variant, target: 'S3 (inbox bucket)', pace }, list, mark);
}
