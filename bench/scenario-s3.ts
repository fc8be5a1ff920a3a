/**
 * The legs that involve S3, against the same two endpoints for every tool
 * (the OpenSSH sshd and the S3 emulator of the local engine):
 *
 * - SFTP→S3 and S3→SFTP: eft's worker (the esbuild bundle of
 *   fargate-worker/main.ts, as the container runs it, on a job the state
 *   machine's StartTransfer task made RUNNING; VerifyTransfer checks the
 *   result afterwards) vs `rclone copyto` between the two remotes;
 * - the emulator alone (rclone local file → S3 and S3 → local file), so the
 *   ratios can be read against what the emulator can take at all;
 * - S3→S3 server-side copy with multipart parts: eft's copyS3Object vs rclone
 *   vs `aws s3 cp` (when the AWS CLI is installed and works with the emulator).
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { DEFAULT_S3_COPY_CONFIG } from '../core/adapters/s3/server-side-copy-config';
import { contentStream, hashTap, sha256File, writeContentFile } from './content';
import {
  type BenchContext,
  eventOf,
  type Measurement,
  measurement,
  note,
  progressFromLines,
  roomFor,
  rssWindow,
  skip,
  type Tool,
} from './context';
import {
  BUCKET,
  BUCKET_OWNER,
  CONTAINER_ENV,
  deleteObject,
  type Engine,
  eftNodeArgs,
  objectSize,
  runningJob,
  S3_PREFIX,
  verifyAndRelease,
  workerCommand,
} from './engine';
import { type Observed, observe, removeQuietly, settle } from './measure';
import { awsCopyCommand, type Command, rcloneCommand, rcloneEnv, type S3Ref } from './peers';
import { formatBytes, log, MiB, rotate, round } from './util';

const S3_TOOLS: Tool[] = ['eft', 'rclone'];

export interface S3Options {
  legs: boolean;
  copy: boolean;
  emulator: boolean;
  /** The AWS CLI binary, when one works against the emulator. */
  aws?: string;
}

/** Multipart settings of the S3→S3 copy comparison (all three tools get the same). */
export const COPY_PART_BYTES = 64 * MiB;

function s3Ref(engine: Engine): S3Ref {
  return {
    endpoint: engine.stack.info.s3.endpoint,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    region: engine.stores.region,
  };
}

async function sha256OfObject(engine: Engine, key: string): Promise<string> {
  const got = await engine.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of got.Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Streams generated content into an S3 object (no local file): returns its SHA-256. */
async function putGeneratedObject(engine: Engine, key: string, size: number): Promise<string> {
  const tap = hashTap();
  const upload = new Upload({
    client: engine.s3,
    params: { Bucket: BUCKET, Key: key, Body: contentStream(size).pipe(tap.stream) },
    partSize: 16 * MiB,
    queueSize: 4,
  });
  await upload.done();
  return tap.hex();
}

function record(
  ctx: BenchContext,
  scenario: string,
  tool: Tool,
  size: number,
  r: number,
  observed: Observed,
  verified: Measurement['verified'],
  extra: { hwmMiB?: number; detail?: Record<string, unknown> } = {},
  progress = observed.progress,
): void {
  const { outcome } = observed;
  const window = rssWindow(outcome.samples, progress, size, outcome.wallMs);
  const m = measurement(
    {
      scenario,
      network: 'loopback',
      tool,
      bytes: size,
      round: r,
      ...(observed.sshdCpuMs !== undefined ? { sshdCpuMs: round(observed.sshdCpuMs, 0) } : {}),
      otherCpuMs: round(observed.otherCpuMs, 0),
      ...(observed.s3CpuMs !== undefined ? { s3CpuMs: round(observed.s3CpuMs, 0) } : {}),
      verified,
      ...(window ? { rss: window } : {}),
      ...extra,
    },
    outcome,
  );
  ctx.measurements.push(m);
  log(
    `  ${scenario.padEnd(11)} ${tool.padEnd(8)} ${String(m.mbps).padStart(7)} MB/s  cpu ${m.cpuMs} ms  sshd ${m.sshdCpuMs ?? '-'} ms  s3 ${m.s3CpuMs ?? '-'} ms  peak ${m.peakRssMiB} MiB`,
  );
}

/** Runs the worker bundle on a RUNNING job; checks its exit, its result and the state machine's verification. */
async function runWorker(
  ctx: BenchContext,
  engine: Engine,
  flow: 'SFTP_TO_S3' | 'S3_TO_SFTP',
  source: { endpointId: string; path: string },
  target: { endpointId: string; path: string },
  size: number,
  expectedSha: string,
): Promise<{ observed: Observed; hwmMiB: number; progress: Array<{ t: number; bytes: number }> }> {
  const running = await runningJob(engine, flow, source, target);
  const observed = await observe(ctx, workerCommand(engine, ctx.bundles.worker, running), {
    what: `eft worker ${flow} of ${formatBytes(size)}`,
    sshdPid: ctx.sshdPid,
    s3Pid: engine.s3Pid,
    poll: async () => (await engine.stores.jobs.get(running.key))?.bytesTransferred,
  });
  const job = await verifyAndRelease(engine, running);
  if (job.status !== 'SUCCEEDED') throw new Error(`the ${flow} job ended ${job.status}`);
  if (job.result?.bytes !== size || job.result.sha256 !== expectedSha) {
    throw new Error(`the ${flow} job's result does not match the source: ${JSON.stringify(job.result)}`);
  }
  const exit = eventOf<{ maxRssBytes: number }>(observed.outcome.stdout, 'worker exit');
  const progress = [...observed.progress, ...progressFromLines(observed.outcome.stdout)];
  return { observed, hwmMiB: round((exit?.maxRssBytes ?? 0) / MiB), progress };
}

export async function runS3Scenarios(ctx: BenchContext, engine: Engine, options: S3Options): Promise<void> {
  const ref = s3Ref(engine);
  const env = rcloneEnv(ctx.peer, ctx.server, ref);
  const sftpDir = join(ctx.remoteDir, 's3legs');
  const downDir = join(ctx.remoteDir, 's3-to-sftp');
  await mkdir(sftpDir, { recursive: true });
  await mkdir(downDir, { recursive: true });
  const s3Url = (key: string) => `efts3:${BUCKET}/${key}`;

  for (const size of ctx.options.s3Sizes) {
    // The emulator writes a multipart object's parts, then concatenates them into a new file: with the
    // source that is three times the size on disk at the end of an upload.
    if (!roomFor(ctx.workDir, 3 * size + 64 * MiB)) {
      skip(
        ctx,
        `S3 legs at ${formatBytes(size)}: not enough free space (the source, the emulator's parts and the object it concatenates from them: ${formatBytes(3 * size)})`,
      );
      continue;
    }
    // Phase A: the source is a file on the SFTP server.
    if (options.legs || options.emulator) {
      const sourceName = `source-${size}.bin`;
      const source = join(sftpDir, sourceName);
      log(`SFTP→S3, ${formatBytes(size)}: generating the source file`);
      const sourceSha = await writeContentFile(source, size);
      await settle();
      try {
        for (let r = 0; r < ctx.options.rounds; r++) {
          const tools: Array<[string, Tool]> = [
            ...(options.legs ? S3_TOOLS.map((t) => ['sftp-to-s3', t] as [string, Tool]) : []),
            ...(options.emulator ? [['s3-put-only', 'rclone'] as [string, Tool]] : []),
          ];
          for (const [scenario, tool] of rotate(tools, r)) {
            const key = `${S3_PREFIX}${scenario}/${tool}-${r}.bin`;
            await deleteObject(engine, key);
            let observed: Observed;
            let extra: { hwmMiB?: number } = {};
            let progress: Array<{ t: number; bytes: number }> | undefined;
            if (tool === 'eft') {
              const run = await runWorker(
                ctx,
                engine,
                'SFTP_TO_S3',
                { endpointId: engine.sftpEndpointId, path: `s3legs/${sourceName}` },
                { endpointId: engine.s3EndpointId, path: `${scenario}/${tool}-${r}.bin` },
                size,
                sourceSha,
              );
              observed = run.observed;
              extra = { hwmMiB: run.hwmMiB };
              progress = run.progress;
            } else {
              const from = scenario === 'sftp-to-s3' ? `eftsftp:${source}` : source;
              observed = await observe(ctx, rcloneCommand(env, 'copyto', [from, s3Url(key)]), {
                what: `rclone ${scenario} of ${formatBytes(size)}`,
                ...(scenario === 'sftp-to-s3' ? { sshdPid: ctx.sshdPid } : {}),
                s3Pid: engine.s3Pid,
              });
            }
            let verified: Measurement['verified'] = 'size+samples';
            if ((await objectSize(engine, key)) !== size) throw new Error(`${tool} ${scenario}: the object has the wrong size`);
            if (r === 0) {
              if ((await sha256OfObject(engine, key)) !== sourceSha)
                throw new Error(`${tool} ${scenario}: the object's SHA-256 differs`);
              verified = 'sha256';
            } else if (tool === 'eft') {
              verified = 'result';
            }
            record(ctx, scenario, tool, size, r, observed, verified, extra, progress);
            await deleteObject(engine, key);
            await settle();
          }
        }
      } finally {
        await removeQuietly(source);
      }
    }

    // Phase B: the source is an object in the customer's bucket, streamed in without a local file.
    if (options.legs || options.emulator || options.copy) {
      const sourceKey = `${S3_PREFIX}s3-source-${size}.bin`;
      log(`S3→SFTP / S3→S3, ${formatBytes(size)}: uploading the source object`);
      const sourceSha = await putGeneratedObject(engine, sourceKey, size);
      await settle();
      try {
        for (let r = 0; r < ctx.options.rounds; r++) {
          const tools: Array<[string, Tool]> = [
            ...(options.legs ? S3_TOOLS.map((t) => ['s3-to-sftp', t] as [string, Tool]) : []),
            ...(options.emulator ? [['s3-get-only', 'rclone'] as [string, Tool]] : []),
          ];
          for (const [scenario, tool] of rotate(tools, r)) {
            const destination =
              scenario === 's3-to-sftp' ? join(downDir, `${tool}-${r}.bin`) : join(ctx.workDir, `s3-get-${tool}-${r}.bin`);
            await removeQuietly(destination);
            let observed: Observed;
            let extra: { hwmMiB?: number } = {};
            let progress: Array<{ t: number; bytes: number }> | undefined;
            if (tool === 'eft') {
              const run = await runWorker(
                ctx,
                engine,
                'S3_TO_SFTP',
                { endpointId: engine.s3EndpointId, path: sourceKey.slice(S3_PREFIX.length) },
                { endpointId: engine.sftpEndpointId, path: `s3-to-sftp/${tool}-${r}.bin` },
                size,
                sourceSha,
              );
              observed = run.observed;
              extra = { hwmMiB: run.hwmMiB };
              progress = run.progress;
            } else {
              const to = scenario === 's3-to-sftp' ? `eftsftp:${destination}` : destination;
              observed = await observe(ctx, rcloneCommand(env, 'copyto', [s3Url(sourceKey), to]), {
                what: `rclone ${scenario} of ${formatBytes(size)}`,
                ...(scenario === 's3-to-sftp' ? { sshdPid: ctx.sshdPid } : {}),
                s3Pid: engine.s3Pid,
                progressFile: destination,
              });
            }
            let verified: Measurement['verified'] = 'size+samples';
            if (r === 0) {
              if ((await sha256File(destination)) !== sourceSha)
                throw new Error(`${tool} ${scenario}: the file's SHA-256 differs`);
              verified = 'sha256';
            } else if (tool === 'eft') {
              verified = 'result';
            }
            record(ctx, scenario, tool, size, r, observed, verified, extra, progress);
            await removeQuietly(destination);
            await settle();
          }
        }
        if (options.copy) await runCopies(ctx, engine, options, sourceKey, size);
      } finally {
        await deleteObject(engine, sourceKey);
      }
    }
  }
}

/** S3→S3 server-side copy of the source object, in parts of COPY_PART_BYTES for every tool. */
async function runCopies(ctx: BenchContext, engine: Engine, options: S3Options, sourceKey: string, size: number): Promise<void> {
  const ref = s3Ref(engine);
  const env = rcloneEnv(ctx.peer, undefined, ref);
  const tools: Tool[] = ['eft', 'rclone', ...(options.aws ? (['aws-cli'] as Tool[]) : [])];
  const sourceEtag = (await engine.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: sourceKey }))).ETag;
  for (let r = 0; r < ctx.options.rounds; r++) {
    for (const tool of rotate(tools, r)) {
      const key = `${S3_PREFIX}s3-copy/${tool}-${r}.bin`;
      await deleteObject(engine, key);
      let command: Command;
      if (tool === 'eft') {
        command = {
          command: process.execPath,
          args: [
            ...eftNodeArgs(),
            ctx.bundles.s3Copy,
            JSON.stringify({
              source: { bucket: BUCKET, key: sourceKey, owner: BUCKET_OWNER },
              target: { bucket: BUCKET, key, owner: BUCKET_OWNER },
              config: { multipartThresholdBytes: COPY_PART_BYTES - 1, partSizeBytes: COPY_PART_BYTES },
            }),
          ],
          env: { PATH: process.env.PATH ?? '', ...CONTAINER_ENV, ...engine.env },
        };
      } else if (tool === 'rclone') {
        command = rcloneCommand(
          env,
          'copyto',
          [`efts3:${BUCKET}/${sourceKey}`, `efts3:${BUCKET}/${key}`],
          ['--s3-copy-cutoff', `${COPY_PART_BYTES / MiB}M`],
        );
      } else {
        command = awsCopyCommand(ctx.peer, options.aws as string, ref, `s3://${BUCKET}/${sourceKey}`, `s3://${BUCKET}/${key}`, {
          thresholdBytes: COPY_PART_BYTES,
          chunkBytes: COPY_PART_BYTES,
        });
      }
      const observed = await observe(ctx, command, { what: `${tool} S3→S3 copy of ${formatBytes(size)}`, s3Pid: engine.s3Pid });
      if ((await objectSize(engine, key)) !== size) throw new Error(`${tool} S3→S3 copy: the copy has the wrong size`);
      let verified: Measurement['verified'] = 'size+samples';
      if (r === 0) {
        const [a, b] = await Promise.all([sha256OfObject(engine, sourceKey), sha256OfObject(engine, key)]);
        if (a !== b) throw new Error(`${tool} S3→S3 copy: the copy's SHA-256 differs`);
        verified = 'sha256';
      }
      const done =
        tool === 'eft' ? eventOf<{ maxRssBytes: number; checkpointWrites: number }>(observed.outcome.stdout, 'done') : undefined;
      record(ctx, 's3-copy', tool, size, r, observed, verified, {
        ...(done ? { hwmMiB: round(done.maxRssBytes / MiB) } : {}),
        detail: { partBytes: COPY_PART_BYTES, sourceEtag },
      });
      await deleteObject(engine, key);
    }
  }
  note(
    ctx,
    `S3→S3 copies use ${COPY_PART_BYTES / MiB} MiB parts for every tool (eft: multipartThresholdBytes below the size, partSizeBytes ${COPY_PART_BYTES / MiB} MiB, ${DEFAULT_S3_COPY_CONFIG.partConcurrency} parts at once; rclone: --s3-copy-cutoff ${COPY_PART_BYTES / MiB}M; aws: multipart_threshold/chunksize ${COPY_PART_BYTES / MiB} MiB). eft's default copies objects up to 5 GiB with one CopyObject.`,
  );
}
