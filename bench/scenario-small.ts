/**
 * Many small files SFTP→S3 (default 10,000 of 1 KiB): eft through the engine
 * as a customer uses it (POST /transfers of a folder, the jobs followed with
 * GET /jobs?requestId=) vs `rclone copy --transfers 16` of the same tree.
 *
 * The local engine starts one worker process per job (ECS RunTask, locally
 * `node --import tsx fargate-worker/main.ts`) and does not cap how many run
 * at once: one POST of a 10,000-file folder would start 10,000 processes
 * (≈1 TB of RSS). So the files sit in folders of `--eft-window` files (16, as
 * rclone's --transfers 16), eft gets one folder per POST, and the next POST
 * goes out when the previous folder's jobs have ended. eft stops submitting
 * once `--eft-files-budget` seconds have passed; its rate is then over the
 * files it moved, and the report says how many.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { type BenchContext, type Measurement, note, remainingMs } from './context';
import { BUCKET, type Engine, S3_PREFIX } from './engine';
import { observe, waitForQuiet } from './measure';
import { rcloneCommand, rcloneEnv } from './peers';
import { findChildren, machineBusyMs, totalCpuMs, treeCpuMs } from './proc';
import { log, median, round, sleep } from './util';

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
  const regions = findChildren(process.pid, 'region-process.ts');
  const own = process.cpuUsage();
  return (own.user + own.system) / 1000 + regions.reduce((sum, pid) => sum + totalCpuMs(pid), 0) + totalCpuMs(engine.s3Pid);
}

export async function runSmallFiles(ctx: BenchContext, engine: Engine): Promise<void> {
  const { files, fileSize, eftWindow } = ctx.options;
  const root = join(ctx.remoteDir, 'small');
  const batches = Math.ceil(files / eftWindow);
  log(`small files: writing ${files} files of ${fileSize} B in ${batches} folders of ${eftWindow}`);
  for (let b = 0; b < batches; b++) {
    const dir = join(root, `batch-${String(b).padStart(5, '0')}`);
    await mkdir(dir, { recursive: true });
    const count = Math.min(eftWindow, files - b * eftWindow);
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        writeFile(join(dir, `f-${String(b * eftWindow + i).padStart(6, '0')}.dat`), randomBytes(fileSize)),
      ),
    );
  }
  try {
    await runRclone(ctx, engine, root);
    await runEft(ctx, engine, batches);
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

async function runEft(ctx: BenchContext, engine: Engine, batches: number): Promise<void> {
  const { eftWindow, eftFilesBudgetMs } = ctx.options;
  log(`small files: eft, folders of ${eftWindow} (POST /transfers each), for at most ${eftFilesBudgetMs / 1000} s`);
  await waitForQuiet(ctx, 'eft small files');
  const cpuBefore = engineCpuMs(engine);
  const machineBefore = machineBusyMs();
  const treeBefore = treeCpuMs(process.pid);
  const started = performance.now();
  let succeeded = 0;
  let failed = 0;
  let submitted = 0;
  const postMs: number[] = [];
  const batchMs: number[] = [];
  let b = 0;
  for (; b < batches; b++) {
    if (performance.now() - started > eftFilesBudgetMs) break;
    if (remainingMs(ctx) < 120_000) {
      note(ctx, 'small files: eft stopped early to stay within the global time budget');
      break;
    }
    const folder = `batch-${String(b).padStart(5, '0')}`;
    const batchStart = performance.now();
    const response = await engine.api.post('/transfers', {
      source: { endpointId: engine.sftpEndpointId, path: `small/${folder}/` },
      target: { endpointId: engine.s3EndpointId, path: `small-eft/${folder}` },
    });
    postMs.push(performance.now() - batchStart);
    if (response.status !== 201) throw new Error(`POST /transfers: ${response.status} ${response.text}`);
    const requestId = response.body.requestId as string;
    const expected = (response.body.jobs as unknown[]).length;
    submitted += expected;
    // Follow the folder's jobs until all have ended (bounded: a job that hangs fails the bench).
    const deadline = Date.now() + 10 * 60_000;
    for (;;) {
      const listed = await engine.api.get(`/jobs?requestId=${requestId}&limit=100`);
      const items = (listed.body?.items ?? []) as Array<{ status: string }>;
      const ended = items.filter((j) => TERMINAL.has(j.status));
      if (items.length === expected && ended.length === expected) {
        succeeded += ended.filter((j) => j.status === 'SUCCEEDED').length;
        failed += ended.filter((j) => j.status !== 'SUCCEEDED').length;
        break;
      }
      if (Date.now() > deadline) throw new Error(`the jobs of ${folder} did not end within 10 minutes`);
      await sleep(200);
    }
    batchMs.push(performance.now() - batchStart);
  }
  const wallMs = performance.now() - started;
  const cpuMs = engineCpuMs(engine) - cpuBefore;
  const otherCpuMs = Math.max(0, machineBusyMs() - machineBefore - (treeCpuMs(process.pid) - treeBefore));
  const arrived = await countObjects(engine, `${S3_PREFIX}small-eft/`);
  if (arrived !== succeeded) throw new Error(`eft: ${succeeded} jobs succeeded but ${arrived} objects arrived`);
  const seconds = wallMs / 1000;
  const rate = succeeded / seconds;
  ctx.measurements.push({
    scenario: 'small-files',
    network: 'loopback',
    tool: 'eft',
    bytes: succeeded * ctx.options.fileSize,
    files: succeeded,
    round: 0,
    wallMs: round(wallMs, 0),
    mbps: round(rate, 2),
    cpuMs: round(cpuMs, 0),
    otherCpuMs: round(otherCpuMs, 0),
    peakRssMiB: 0,
    hwmMiB: 0,
    verified: 'count',
    detail: {
      filesPerSecond: round(rate, 2),
      submitted,
      failed,
      folders: b,
      ofFiles: ctx.options.files,
      window: eftWindow,
      postMedianMs: round(median(postMs), 0),
      folderMedianMs: round(median(batchMs), 0),
      engineCpuMsPerFile: round(cpuMs / Math.max(1, submitted), 0),
      projectedSecondsForAll: round(ctx.options.files / Math.max(rate, 1e-9), 0),
    },
  });
  log(
    `  eft: ${succeeded} files (${failed} failed) in ${round(seconds, 1)} s = ${round(rate, 2)} files/s; engine CPU ${round(cpuMs / Math.max(1, submitted), 0)} ms per file`,
  );
}
