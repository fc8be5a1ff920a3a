import { posix } from 'node:path';
import type { Command } from 'commander';
import type { CreateTransferInput, JobView, TransferRequestView } from '../../core/api/types';
import type { ApiClient } from '../client';
import { action, type Context, integer } from '../context';
import { EXIT, usageError } from '../errors';
import { endpointIdOf, splitLocation } from '../resolve';
import { requestJobs, watchAndSummarize } from '../summary';

const WILDCARD = /[*?]/;

/**
 * A source `<endpoint>:<path>` as the API takes it: paths are relative to the
 * endpoint's base path or prefix; a trailing / is a folder; a wildcard in the
 * last segment is the folder's pattern (the API matches one folder level).
 */
export function sourceOf(path: string): { path: string; pattern?: string } {
  const relative = path.replace(/^\/+/, '');
  const name = posix.basename(relative);
  const folder = relative.endsWith('/') || !relative ? relative : posix.dirname(relative);
  if (WILDCARD.test(folder)) throw usageError(`${path}: wildcards match file names in one folder, not folders`);
  // The endpoint's base folder itself is "/" to the API.
  if (!relative.endsWith('/') && WILDCARD.test(name)) return { path: folder === '.' ? '/' : `${folder}/`, pattern: name };
  return { path: relative || '/' };
}

/** The target: a folder for a folder source or a trailing /, else the file to write (the endpoint's base folder is /). */
export function targetOf(path: string, source: { path: string; pattern?: string }): string {
  const relative = path.replace(/^\/+/, '');
  const folderSource = source.path.endsWith('/') || source.pattern !== undefined;
  if (folderSource) return relative.replace(/\/+$/, '') || '/';
  if (!relative || relative.endsWith('/')) return `${relative}${posix.basename(source.path)}`;
  return relative;
}

/**
 * The jobs a POST /transfers answered with. A file an earlier request already
 * made a job for is answered with that job, which keeps its own requestId: the
 * request's listing alone would miss it.
 */
async function jobsOfAnswer(client: ApiClient, created: TransferRequestView): Promise<JobView[]> {
  const named = new Set(created.jobs.map((job) => job.jobId));
  const requestIds = new Set([created.requestId, ...created.jobs.flatMap((job) => (job.requestId ? [job.requestId] : []))]);
  const lists = await Promise.all([...requestIds].map((id) => requestJobs(client, id)));
  const jobs = new Map<string, JobView>();
  for (const job of lists.flat()) {
    if (named.has(job.jobId) || job.requestId === created.requestId) jobs.set(job.jobId, job);
  }
  return [...jobs.values()];
}

async function cp(
  context: Context,
  from: string,
  to: string,
  o: { detach?: boolean; idempotencyKey?: string; createDirectories?: boolean; interval?: number },
) {
  const source = splitLocation(from, 'SOURCE');
  const target = splitLocation(to, 'TARGET');
  const sourcePath = sourceOf(source.path);
  const targetPath = targetOf(target.path, sourcePath);
  const client = await context.client();
  const body: CreateTransferInput = {
    source: { endpointId: await endpointIdOf(client, source.endpoint), ...sourcePath },
    target: {
      endpointId: await endpointIdOf(client, target.endpoint),
      path: targetPath,
      ...(o.createDirectories === false ? { createDirectories: false } : {}),
    },
  };
  const headers = o.idempotencyKey ? { 'Idempotency-Key': o.idempotencyKey } : undefined;
  const created = await client.post<TransferRequestView>('/transfers', body, headers);
  if (o.detach) {
    context.out.result(created, () => `${created.requestId}`);
    return EXIT.OK;
  }
  return watchAndSummarize(context.out, {
    fetchJobs: () => jobsOfAnswer(client, created),
    result: (jobs, summary) => ({ requestId: created.requestId, ...summary, jobs }),
    resume: `eft jobs watch ${created.requestId}`,
    intervalMs: o.interval,
    heading: `${created.requestId}: ${created.jobCount} file${created.jobCount === 1 ? '' : 's'}`,
  });
}

export function cpCommand(program: Command): void {
  program
    .command('cp <source> <target>')
    .description(
      'copy a file or folder from one endpoint to another and follow it: each side is <endpoint name or id>:<path>, ' +
        'e.g. eft cp partner-out:/daily/*.csv bucket-in:/incoming/ (a trailing / is a folder; * and ? match names in the last folder)',
    )
    .option('--detach', 'print the request id at once and do not wait (eft jobs watch <request id> follows it)')
    .option(
      '--idempotency-key <key>',
      'the same key again returns the same jobs instead of new ones (8-128 of A-Z a-z 0-9 . _ : -)',
    )
    .option('--no-create-directories', 'fail a job whose SFTP target folder is missing instead of creating it')
    .option('--interval <ms>', 'poll interval in milliseconds (default 1000)', integer('--interval'))
    .action(action(cp));
}
