/**
 * One small file SFTP → S3 through the whole engine, one job at a time: POST
 * /transfers of one file, then the job's own timestamps, createdAt →
 * completedAt (the engine's clock, so how often the bench looks does not enter
 * them). A single file of known size under the stage's smallFileThresholdBytes
 * takes the small-file fast path (RunSmallTransfer), not a worker task. The
 * first run loads the handlers and is reported apart; the median is over the
 * runs after it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { awaitJob } from '../local/jobs';
import { type BenchContext, remainingMs } from './context';
import type { Engine } from './engine';
import { waitForQuiet } from './measure';
import { log, median, round } from './util';

const RUNS = 7;
const FILE_BYTES = 1024;

export async function runSingleFile(ctx: BenchContext, engine: Engine): Promise<void> {
  const folder = join(ctx.remoteDir, 'single');
  await mkdir(folder, { recursive: true });
  log(`one small file: ${RUNS} + 1 jobs of one ${FILE_BYTES} B file each, one after the other`);
  await waitForQuiet(ctx, 'eft one small file');
  const seconds: number[] = [];
  let firstSeconds = 0;
  try {
    for (let run = 0; run <= RUNS; run++) {
      const name = `single-${run}.dat`;
      await writeFile(join(folder, name), randomBytes(FILE_BYTES));
      const response = await engine.api.post('/transfers', {
        source: { endpointId: engine.sftpEndpointId, path: `single/${name}` },
        target: { endpointId: engine.s3EndpointId, path: `single-eft/${name}` },
      });
      if (response.status !== 201) throw new Error(`POST /transfers: ${response.status} ${response.text}`);
      const job = await awaitJob(engine.api, response.body.jobs[0].jobId, Math.min(120_000, remainingMs(ctx)));
      if (job.status !== 'SUCCEEDED') throw new Error(`job ${job.jobId} ${job.status}: ${job.errorMessage}`);
      const s = (Date.parse(job.completedAt) - Date.parse(job.createdAt)) / 1000;
      if (run === 0) firstSeconds = s;
      else seconds.push(s);
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  const medianSeconds = round(median(seconds), 2);
  ctx.measurements.push({
    scenario: 'single-file',
    network: 'loopback',
    tool: 'eft',
    bytes: FILE_BYTES,
    files: seconds.length,
    round: 0,
    wallMs: round(medianSeconds * 1000, 0),
    mbps: 0,
    cpuMs: 0,
    peakRssMiB: 0,
    hwmMiB: 0,
    verified: 'count',
    detail: {
      medianSeconds,
      minSeconds: round(Math.min(...seconds), 2),
      maxSeconds: round(Math.max(...seconds), 2),
      firstSeconds: round(firstSeconds, 2),
    },
  });
  log(`  eft: created → SUCCEEDED median ${medianSeconds} s of ${seconds.length} (first run ${round(firstSeconds, 2)} s)`);
}
