/**
 * Many small files SFTP→S3 (default 10,000 of 1 KiB): eft through the engine
 * as a customer uses it (one POST /transfers of the folder) vs `rclone copy
 * --transfers 16` of the same folder.
 *
 * eft plans the request's small files into batches (core/control-plane/transfers/batches.ts:
 * up to 2,500 files, so four for 10,000), one execution and one worker task
 * each. The run ends when every job has ended; the bench follows them in the
 * jobs table once the objects are there (paging 10,000 jobs through GET /jobs
 * every second would load the engine it measures) and stops waiting
 * after `--eft-files-budget` seconds, when its rate is over the files moved
 * by then (the report says how many).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { type BenchContext, type Measurement, note, remainingMs } from './context';
import { BUCKET, CUSTOMER, type Engine, S3_PREFIX } from './engine';
import { observe, waitForQuiet } from './measure';
import { rcloneCommand, rcloneEnv } from './peers';
import { findChildren, machineBusyMs, readCmdline, readStat, totalCpuMs, treeCpuMs } from './proc';
import { log, requestsPer, round, sleep } from './util';

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

async function countObjects(engine: Engine, prefix: string): Promise<number> {
  let count = 0;
  let token: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const listed = await engine.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    count += listed.KeyCount ?? 0;
    token = listed.NextContinuationToken;
    if (!token) break;
  }
  return count;
}

/** Engine CPU: the bench process (dynalite runs in it), the region processes with the workers they reaped, the emulator. */
function engineCpuMs(engine: Engine): number {
  return Object.values(engineCpuMsBy(engine)).reduce((sum, ms) => sum + ms, 0);
}

/**
 * The same CPU by process: the bench's own (dynalite and the streams stand-in run in it; its polling
 * is little), each region role of both regions (api, events: the SQS and EventBridge stand-ins and
 * the event functions; step-functions: the interpreter and the state machine's Lambda tasks), the
 * workers (reaped by the step-functions processes), the S3 emulator.
 */
function engineCpuMsBy(engine: Engine): Record<string, number> {
  const own = process.cpuUsage();
  const by: Record<string, number> = { 'bench+dynalite': (own.user + own.system) / 1000 };
  for (const pid of findChildren(process.pid, 'region-process.ts')) {
    const role = readCmdline(pid).split(' ').at(-1) ?? 'region';
    const stat = readStat(pid);
    by[role] = (by[role] ?? 0) + (stat?.cpuMs ?? 0);
    const reaped = role === 'step-functions' ? 'workers' : `${role} children`;
    by[reaped] = (by[reaped] ?? 0) + (stat?.childrenCpuMs ?? 0);
  }
  by.s3 = totalCpuMs(engine.s3Pid);
  return by;
}

export async function runSmallFiles(ctx: BenchContext, engine: Engine): Promise<void> {
  const { files, fileSize } = ctx.options;
  const root = join(ctx.remoteDir, 'small');
  const folder = join(root, 'all');
  log(`small files: writing ${files} files of ${fileSize} B`);
  await mkdir(folder, { recursive: true });
  for (let start = 0; start < files; start += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, files - start) }, (_, i) =>
        writeFile(join(folder, `f-${String(start + i).padStart(6, '0')}.dat`), randomBytes(fileSize)),
      ),
    );
  }
  try {
    await runRclone(ctx, engine, folder);
    await runEft(ctx, engine);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function runRclone(ctx: BenchContext, engine: Engine, root: string): Promise<void> {
  const prefix = `${S3_PREFIX}small-rclone/`;
  const env = rcloneEnv(ctx.peer, ctx.server, {
    endpoint: engine.stack.info.s3.endpoint,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    region: engine.stores.region,
  });
  log(`small files: rclone copy --transfers 16 of ${ctx.options.files} files`);
  const observed = await observe(
    ctx,
    rcloneCommand(env, 'copy', [`eftsftp:${root}`, `efts3:${BUCKET}/${prefix}`], ['--transfers', '16']),
    {
      what: 'rclone copy of the small files',
      sshdPid: ctx.sshdPid,
      s3Pid: engine.s3Pid,
    },
  );
  const arrived = await countObjects(engine, prefix);
  if (arrived !== ctx.options.files) throw new Error(`rclone copied ${arrived} of ${ctx.options.files} files`);
  const seconds = observed.outcome.wallMs / 1000;
  const m: Measurement = {
    scenario: 'small-files',
    network: 'loopback',
    tool: 'rclone',
    bytes: arrived * ctx.options.fileSize,
    files: arrived,
    round: 0,
    wallMs: round(observed.outcome.wallMs, 0),
    mbps: round(arrived / seconds, 1),
    cpuMs: round(observed.outcome.cpuMs, 0),
    ...(observed.sshdCpuMs !== undefined ? { sshdCpuMs: round(observed.sshdCpuMs, 0) } : {}),
    otherCpuMs: round(observed.otherCpuMs, 0),
    ...(observed.s3CpuMs !== undefined ? { s3CpuMs: round(observed.s3CpuMs, 0) } : {}),
    peakRssMiB: round(observed.outcome.peakRssKiB / 1024),
    hwmMiB: round(observed.outcome.hwmKiB / 1024),
    verified: 'count',
    detail: { filesPerSecond: round(arrived / seconds, 1), transfers: 16 },
  };
  ctx.measurements.push(m);
  log(`  rclone: ${arrived} files in ${round(seconds, 1)} s = ${m.detail?.filesPerSecond} files/s`);
}

async function runEft(ctx: BenchContext, engine: Engine): Promise<void> {
  const { eftFilesBudgetMs } = ctx.options;
  const budgetMs = Math.min(eftFilesBudgetMs, remainingMs(ctx) - 60_000);
  log(`small files: eft, one POST /transfers of the folder, for at most ${Math.round(budgetMs / 1000)} s`);
  await waitForQuiet(ctx, 'eft small files');
  // Arrivals are counted from the emulator's own object events, not by listing the bucket every
  // second: a listing reads every object's metadata, about a third of the emulator's CPU at 2,000
  // files (more at 10,000), which the bench then counted as the engine's.
  const prefix = `${S3_PREFIX}small-eft/`;
  const arrivedKeys = new Set<string>();
  engine.stack.s3.onEvent((record) => {
    const key = record.s3.object.key;
    if (record.eventName.startsWith('ObjectCreated') && key.startsWith(prefix)) arrivedKeys.add(key);
  });
  const cpuBefore = engineCpuMs(engine);
  const cpuByBefore = engineCpuMsBy(engine);
  const requestsBefore = engine.stack.dynamoRequests();
  const machineBefore = machineBusyMs();
  const treeBefore = treeCpuMs(process.pid);
  const started = performance.now();
  const response = await engine.api.post('/transfers', {
    source: { endpointId: engine.sftpEndpointId, path: 'small/all/' },
    target: { endpointId: engine.s3EndpointId, path: 'small-eft' },
  });
  const postMs = performance.now() - started;
  if (response.status !== 201) throw new Error(`POST /transfers: ${response.status} ${response.text}`);
  const requestId = response.body.requestId as string;
  const submitted = response.body.jobCount as number;
  log(`  POST answered in ${round(postMs / 1000, 1)} s with ${submitted} jobs`);
  let ended = { succeeded: 0, failed: 0 };
  for (let poll = 1; ; poll++) {
    // Objects first (their events cost nothing to count); the jobs once all have arrived, or every 10 s
    // in case some fail: reading 10,000 jobs from dynalite costs the engine CPU it is being measured on.
    if (arrivedKeys.size >= submitted || poll % 10 === 0) {
      ended = await endedJobs(engine, requestId);
      if (ended.succeeded + ended.failed >= submitted) break;
    }
    if (performance.now() - started > budgetMs) {
      note(ctx, `small files: eft had ended ${ended.succeeded + ended.failed} of ${submitted} jobs when its budget ran out`);
      break;
    }
    await sleep(1000);
  }
  const wallMs = performance.now() - started;
  const cpuMs = engineCpuMs(engine) - cpuBefore;
  const cpuByAfter = engineCpuMsBy(engine);
  const perFileBy = Object.fromEntries(
    Object.entries(cpuByAfter)
      .map(([name, ms]) => [name, round((ms - (cpuByBefore[name] ?? 0)) / Math.max(1, submitted), 1)] as const)
      .filter(([, ms]) => ms > 0),
  );
  // Less the bench's own reads of the jobs (endedJobs).
  const requestsAfter = engine.stack.dynamoRequests();
  requestsAfter['Query jobs'] = (requestsAfter['Query jobs'] ?? 0) - benchQueries;
  const otherCpuMs = Math.max(0, machineBusyMs() - machineBefore - (treeCpuMs(process.pid) - treeBefore));
  const arrived = await countObjects(engine, prefix);
  if (arrived < ended.succeeded) throw new Error(`eft: ${ended.succeeded} jobs succeeded but ${arrived} objects arrived`);
  const seconds = wallMs / 1000;
  const rate = ended.succeeded / seconds;
  const requests = requestsPer(requestsBefore, requestsAfter, submitted);
  ctx.measurements.push({
    scenario: 'small-files',
    network: 'loopback',
    tool: 'eft',
    bytes: ended.succeeded * ctx.options.fileSize,
    files: ended.succeeded,
    round: 0,
    wallMs: round(wallMs, 0),
    mbps: round(rate, 1),
    cpuMs: round(cpuMs, 0),
    otherCpuMs: round(otherCpuMs, 0),
    peakRssMiB: 0,
    hwmMiB: 0,
    verified: 'count',
    detail: {
      filesPerSecond: round(rate, 1),
      submitted,
      failed: ended.failed,
      ofFiles: ctx.options.files,
      postSeconds: round(postMs / 1000, 1),
      engineCpuMsPerFile: round(cpuMs / Math.max(1, submitted), 1),
      engineCpuMsPerFileBy: perFileBy,
      dynamoRequestsPerFile: requests,
      dynamoBookkeepingPerFile: bookkeepingOf(requests),
    },
  });
  log(`  eft: engine CPU ms per file by process: ${JSON.stringify(perFileBy)}`);
  log(
    `  eft: ${ended.succeeded} files (${ended.failed} failed) in ${round(seconds, 1)} s = ${round(rate, 1)} files/s; engine CPU ${round(cpuMs / Math.max(1, submitted), 1)} ms per file; DynamoDB requests per file ${requests.total}, of them the jobs' bookkeeping ${bookkeepingOf(requests)}`,
  );
}

/**
 * The requests on the tables of the jobs' own bookkeeping (jobs, their audit trail, leases, the
 * endpoints and principals read for them), as issue 18 counts them; the others are what deliveries
 * cause elsewhere (route ingestion of the objects that land in a bucket, webhook look-ups).
 */
export function bookkeepingOf(requests: { byKind: Record<string, number> }): number {
  const tables = ['jobs', 'audit', 'leases', 'endpoints', 'principals'];
  const counted = Object.entries(requests.byKind).filter(([kind]) => tables.includes(kind.split(' ')[1] ?? ''));
  return round(
    counted.reduce((sum, [, n]) => sum + n, 0),
    2,
  );
}

/** Query requests endedJobs made (they are the bench's, not the engine's). */
let benchQueries = 0;

/** The request's jobs that have ended, read from the jobs table (the requestKey index). */
async function endedJobs(engine: Engine, requestId: string): Promise<{ succeeded: number; failed: number }> {
  let succeeded = 0;
  let failed = 0;
  let cursor: string | undefined;
  do {
    const page = await engine.stores.jobs.list(CUSTOMER, { requestId }, { limit: 1000, ...(cursor ? { cursor } : {}) });
    benchQueries++;
    for (const job of page.items) {
      if (job.status === 'SUCCEEDED') succeeded++;
      else if (TERMINAL.has(job.status)) failed++;
    }
    cursor = page.nextCursor;
  } while (cursor);
  return { succeeded, failed };
}
