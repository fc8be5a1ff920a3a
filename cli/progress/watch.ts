/**
 * MINIMAL STAND-IN for the live progress display (replaced by the real one at merge):
 * polls until every job has ended, printing one plain line per job status change.
 */
import type { JobView } from '../api-types';

export interface WatchOptions {
  fetchJobs: () => Promise<JobView[]>; // the request's jobs now (all pages of GET /jobs?requestId=)
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }; // TTY: redrawn bars; else one line per update
  intervalMs?: number; // poll interval, default 1000
  signal?: AbortSignal;
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/** Polls until every job is SUCCEEDED, FAILED or CANCELLED; returns the final views. */
export async function watchJobs(options: WatchOptions): Promise<JobView[]> {
  const seen = new Map<string, string>();
  for (;;) {
    options.signal?.throwIfAborted();
    const jobs = await options.fetchJobs();
    for (const job of jobs) {
      if (seen.get(job.jobId) === job.status) continue;
      seen.set(job.jobId, job.status);
      options.out.write(`${job.jobId} ${job.status} ${job.source.path}\n`);
    }
    if (jobs.every((job) => TERMINAL.has(job.status))) return jobs;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
  }
}
