import type { JobView } from '../core/api/types';
import type { ApiClient } from './client';
import { CliError, EXIT, type ExitCode } from './errors';
import { hintFor } from './hints';
import { formatBytes, type Output } from './output';
import { watchJobs } from './progress/watch';

export interface JobsSummary {
  jobCount: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** Bytes delivered by the jobs that succeeded. */
  bytes: number;
  failures: Array<{ jobId: string; status: string; path: string; code?: string; message?: string }>;
}

export function summarize(jobs: JobView[]): JobsSummary {
  const ended = (status: string) => jobs.filter((job) => job.status === status);
  const succeeded = ended('SUCCEEDED');
  return {
    jobCount: jobs.length,
    succeeded: succeeded.length,
    failed: ended('FAILED').length,
    cancelled: ended('CANCELLED').length,
    bytes: succeeded.reduce((sum, job) => sum + (job.result?.bytes ?? job.bytesTransferred), 0),
    failures: jobs
      .filter((job) => job.status === 'FAILED' || job.status === 'CANCELLED')
      .map((job) => ({
        jobId: job.jobId,
        status: job.status,
        path: job.source.path,
        ...(job.error ? { code: job.error.code, message: job.error.message } : {}),
      })),
  };
}

/** 0 when every job succeeded, 1 when any failed or was cancelled. */
export const exitCodeOf = (summary: JobsSummary): ExitCode => (summary.failures.length ? EXIT.FAILED : EXIT.OK);

export function summaryText(summary: JobsSummary): string {
  const files = `${summary.jobCount} file${summary.jobCount === 1 ? '' : 's'}`;
  const lines = [
    `${files}: ${summary.succeeded} succeeded, ${summary.failed} failed, ${summary.cancelled} cancelled; ${formatBytes(summary.bytes)} delivered`,
  ];
  for (const f of summary.failures) {
    lines.push(`${f.status} ${f.jobId} ${f.code ?? ''}${f.message ? `: ${f.message}` : ''} (${f.path})`.replace(/ {2,}/g, ' '));
    const hint = hintFor(f.code, f.message ?? '');
    if (hint) lines.push(`  ${hint.replace('<job>', f.jobId)}`);
  }
  return lines.join('\n');
}

/** Every job of a request, all pages of GET /jobs?requestId=. */
export const requestJobs = (client: ApiClient, requestId: string) => client.all<JobView>('/jobs', { requestId });

/** What to follow and how to report it. */
export interface Watch {
  fetchJobs: () => Promise<JobView[]>;
  /** The --json result from the final views. */
  result: (jobs: JobView[], summary: JobsSummary) => unknown;
  /** The command that watches the same jobs again (said when Ctrl-C stops the watching). */
  resume: string;
  intervalMs?: number;
  /** A first line (e.g. the request id), printed once Ctrl-C is handled: a script may interrupt as soon as it reads it. */
  heading?: string;
}

/**
 * Follows jobs to their end with the progress display, then prints the
 * summary (the failed jobs' ids and codes too on stderr with --json, where
 * stdout carries only the result).
 */
export async function watchAndSummarize(
  out: Output,
  { fetchJobs, result, resume, intervalMs, heading }: Watch,
): Promise<ExitCode> {
  // Ctrl-C stops the watching, not the transfer: say so, and how to watch again.
  const interrupted = new AbortController();
  const interrupt = () => interrupted.abort();
  process.once('SIGINT', interrupt);
  const stopped = () =>
    new CliError(`stopped watching; the jobs go on in the engine. Watch again: ${resume}`, EXIT.INTERRUPTED, 'INTERRUPTED');
  if (heading) out.note(heading);
  let jobs: JobView[];
  try {
    jobs = await watchJobs({ fetchJobs, out: out.progress, signal: interrupted.signal, ...(intervalMs ? { intervalMs } : {}) });
  } catch (error) {
    throw interrupted.signal.aborted ? stopped() : error;
  } finally {
    process.off('SIGINT', interrupt);
  }
  // Interrupted during the last poll: the user asked to stop, whatever that poll found.
  if (interrupted.signal.aborted) throw stopped();
  const summary = summarize(jobs);
  if (out.json && summary.failures.length) out.stderr.write(`${summaryText(summary)}\n`);
  out.result(result(jobs, summary), () => summaryText(summary));
  return exitCodeOf(summary);
}
