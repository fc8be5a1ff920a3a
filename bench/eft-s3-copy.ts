/**
 * eft's S3→S3 server-side copy as a child process the bench measures:
 * core/adapters/s3/server-side-copy.ts copyS3Object (what the copyS3Object Lambda runs),
 * with the engine's S3 client and copy settings. The job store is a stand-in
 * that hands back the job and accepts the checkpoint writes (a DynamoDB write
 * per second at most), so only the S3 side is timed.
 *
 * Argument: JSON { source: {bucket,key,owner}, target: {bucket,key,owner}, config: partial S3CopyConfig }.
 * The environment carries the S3 endpoint and credentials (AWS_ENDPOINT_URL_S3…).
 * Output: one JSON line {"event":"done",…}.
 */
import { performance } from 'node:perf_hooks';
import { createS3Client } from '../core/adapters/s3/client';
import { copyS3Object, type S3CopyDeps } from '../core/adapters/s3/server-side-copy';
import { type S3CopyConfig, s3CopyConfigFromEnv } from '../core/adapters/s3/server-side-copy-config';
import type { TransferJob } from '../core/domain/job';
import type { LeaseToken } from '../core/domain/lease';

interface CopyArgs {
  source: { bucket: string; key: string; owner: string };
  target: { bucket: string; key: string; owner: string };
  config: Partial<S3CopyConfig>;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as CopyArgs;
  const s3 = createS3Client(process.env);
  const config = { ...s3CopyConfigFromEnv(process.env), ...args.config };
  let checkpointWrites = 0;
  const job = { customerId: 'bench', jobId: 'job_bench', checkpoint: undefined } as unknown as TransferJob;
  // Typed as the copy's port, so the type check fails when the copy needs more of its job store.
  const jobs: S3CopyDeps['jobs'] = {
    get: async () => job,
    recordWork: async () => {
      checkpointWrites++;
      return job;
    },
  };
  const lease = { partitionId: 'bench', executionId: 'bench', region: 'bench', epoch: 1 } as unknown as LeaseToken;
  const started = performance.now();
  const result = await copyS3Object({ s3, jobs, config }, { job, lease, source: args.source, target: args.target });
  process.stdout.write(
    `${JSON.stringify({
      event: 'done',
      bytes: result.bytes,
      etag: result.etag,
      copyMs: performance.now() - started,
      checkpointWrites,
      config,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    })}\n`,
  );
  s3.destroy();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`eft s3 copy failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
