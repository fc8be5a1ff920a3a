/**
 * How a request's jobs are grouped into executions.
 *
 * A large file gets an execution (and, for SFTP legs, a worker task) of its
 * own, so it moves at the full speed of one task. Small files through SFTP
 * are batched instead: one execution and one worker task move many of them
 * over one SFTP session per endpoint, several files in flight, each file still
 * its own job with its own lifecycle, idempotency key and result. Starting a
 * Fargate task (~30 s) and an SSH session per 1 KB file would be wasteful and
 * slow, and would open as many sessions at the partner as there are files.
 *
 * The grouping is a pure function of the request's jobs, so a replayed request
 * yields the same batches, hence the same execution names, which Step
 * Functions refuses to start twice.
 */
import { deterministicId } from '../../domain/ids';
import type { TransferJob } from '../../domain/job';

/** Files up to this size are batched (at ~100 MB/s per task it is a fraction of a second each). */
export const BATCH_FILE_MAX_BYTES = 16 * 1024 * 1024;
/**
 * Jobs per batch. The execution input (Step Functions' limit is 256 KiB)
 * carries the job ids, ~33 bytes each; 2,500 keeps a 10,000-file request to
 * four worker tasks, the default partner session limit (maxConcurrency).
 */
export const BATCH_MAX_FILES = 2500;

export type ExecutionPlan =
  | { kind: 'job'; job: TransferJob }
  | { kind: 'batch'; customerId: string; batchId: string; jobs: TransferJob[] };

const batchable = (job: TransferJob) =>
  job.redriveOf === undefined && (job.bytesTotal ?? Number.POSITIVE_INFINITY) <= BATCH_FILE_MAX_BYTES;

/**
 * Splits the jobs of one request (one source and one target endpoint) into
 * single executions and batches of similar size. One small file alone is not
 * worth a batch: it runs as a single job. Nor are the files of a server-side
 * copy (S3→S3): no worker task or session is spent on them.
 */
export function planExecutions(jobs: TransferJob[], pair: { serverSideCopy: boolean }): ExecutionPlan[] {
  const small = pair.serverSideCopy ? [] : jobs.filter(batchable);
  if (small.length < 2) return jobs.map((job) => ({ kind: 'job', job }));
  const plans: ExecutionPlan[] = jobs.filter((job) => !batchable(job)).map((job) => ({ kind: 'job', job }));
  const sorted = [...small].sort((a, b) => a.jobId.localeCompare(b.jobId));
  const count = Math.ceil(sorted.length / BATCH_MAX_FILES);
  const size = Math.ceil(sorted.length / count);
  for (let start = 0; start < sorted.length; start += size) {
    const members = sorted.slice(start, start + size);
    const first = members[0] as TransferJob;
    plans.push({
      kind: 'batch',
      customerId: first.customerId,
      batchId: deterministicId('batch', first.customerId, ...members.map((job) => job.jobId)),
      jobs: members,
    });
  }
  return plans;
}
