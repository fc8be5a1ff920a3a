import type { Command } from 'commander';
import type { JobView, Page } from '../../core/api/types';
import { action, type Context, integer } from '../context';
import { EXIT, usageError } from '../errors';
import { describe, formatBytes, table } from '../output';
import { requestJobs, watchAndSummarize } from '../summary';

const JOB_ID = /^job_[0-9a-z]{26}$/;
const REQUEST_ID = /^req_[0-9a-z]{26}$/;

function jobId(id: string): string {
  if (!JOB_ID.test(id)) throw usageError(`${id} is not a job id (job_ and 26 letters or digits)`);
  return id;
}

const progressOf = (job: JobView) =>
  job.bytesTotal ? `${formatBytes(job.bytesTransferred)}/${formatBytes(job.bytesTotal)}` : formatBytes(job.bytesTransferred);

async function list(
  context: Context,
  o: { status?: string; requestId?: string; limit?: number; cursor?: string; all?: boolean },
) {
  const client = await context.client();
  const filter = { status: o.status?.toUpperCase(), requestId: o.requestId };
  const page: Page<JobView> = o.all
    ? { items: await client.all<JobView>('/jobs', filter) }
    : await client.get<Page<JobView>>('/jobs', { ...filter, limit: o.limit, cursor: o.cursor });
  context.out.result(page, () => {
    const rows = page.items.map((j) => [j.jobId, j.status, j.flowType, progressOf(j), j.source.path, j.error?.code ?? '']);
    const more = page.nextCursor ? `\nmore: eft jobs list --cursor ${page.nextCursor}` : '';
    return `${table(['JOB', 'STATUS', 'FLOW', 'BYTES', 'SOURCE', 'ERROR'], rows)}${more}`;
  });
  return EXIT.OK;
}

async function get(context: Context, id: string) {
  const client = await context.client();
  const job = await client.get<JobView>(`/jobs/${jobId(id)}`);
  context.out.result(job, () => describe(job));
  return EXIT.OK;
}

/** A job, or every job of a request, followed to the end; exit 1 if any failed or was cancelled. */
async function watch(context: Context, id: string, o: { interval?: number }) {
  if (!JOB_ID.test(id) && !REQUEST_ID.test(id)) throw usageError(`${id} is neither a job id (job_…) nor a request id (req_…)`);
  const client = await context.client();
  const fetchJobs = REQUEST_ID.test(id) ? () => requestJobs(client, id) : async () => [await client.get<JobView>(`/jobs/${id}`)];
  if (REQUEST_ID.test(id) && (await fetchJobs()).length === 0) throw usageError(`request ${id} has no jobs you can see`);
  return watchAndSummarize(context.out, {
    fetchJobs,
    result: (jobs, summary) => ({ ...summary, jobs }),
    resume: `eft jobs watch ${id}`,
    intervalMs: o.interval,
  });
}

async function cancel(context: Context, id: string) {
  const client = await context.client();
  const job = await client.post<JobView>(`/jobs/${jobId(id)}/cancel`);
  context.out.result(job, () => `${job.jobId} ${job.status}`);
  return EXIT.OK;
}

async function redrive(context: Context, id: string, o: { watch?: boolean; interval?: number }) {
  const client = await context.client();
  const job = await client.post<JobView>(`/jobs/${jobId(id)}/redrive`);
  if (!o.watch) {
    context.out.result(job, () => `${job.jobId} ${job.status} (re-drive of ${id})\nfollow it: eft jobs watch ${job.jobId}`);
    return EXIT.OK;
  }
  return watchAndSummarize(context.out, {
    fetchJobs: async () => [await client.get<JobView>(`/jobs/${job.jobId}`)],
    result: (jobs, summary) => ({ ...summary, jobs }),
    resume: `eft jobs watch ${job.jobId}`,
    intervalMs: o.interval,
  });
}

export function jobsCommand(program: Command): void {
  const jobs = program.command('jobs').description('follow, cancel and re-drive transfer jobs');
  jobs
    .command('list')
    .description('list your jobs')
    .option('--status <status>', 'only jobs in this state (RECEIVED, QUEUED, RUNNING, VERIFYING, SUCCEEDED, FAILED, CANCELLED)')
    .option('--request-id <id>', 'only the jobs of this request (eft cp prints it)')
    .option('--limit <n>', 'page size (1-100)', integer('--limit'))
    .option('--cursor <cursor>', 'the page after the one that printed it')
    .option('--all', 'every page')
    .action(action(list));
  jobs.command('get <job>').description('show a job: its transitions, bytes, result or error').action(action(get));
  jobs
    .command('watch <id>')
    .description('follow a job (job_…) or every job of a request (req_…) until they end; exit 1 if any failed')
    .option('--interval <ms>', 'poll interval in milliseconds (default 1000)', integer('--interval'))
    .action(action(watch));
  jobs.command('cancel <job>').description('cancel a job that has not started executing').action(action(cancel));
  jobs
    .command('redrive <job>')
    .description('re-run a failed job from its checkpoint, as a new job')
    .option('--watch', 'follow the new job until it ends')
    .option('--interval <ms>', 'poll interval in milliseconds (default 1000)', integer('--interval'))
    .action(action(redrive));
}
