import { posix } from 'node:path';
import type { TransferJob } from '../../domain/job';
import { temporaryPathFor } from '../../domain/transfer/temporary-name';

/**
 * An SFTP target's temporary file that an attempt of an ended, undelivered job may have left next to the
 * target (its worker was killed, or could not remove it): its name, so that the customer can tell whose it
 * is. A keyless re-drive reuses or removes it.
 */
function temporaryFileOf(job: TransferJob): string | undefined {
  const undelivered = job.status === 'FAILED' || job.status === 'CANCELLED';
  const wrote = job.startedAt !== undefined && job.checkpoint?.delivery !== 'direct-write';
  if (!undelivered || !wrote || !job.flowType.endsWith('_TO_SFTP')) return undefined;
  return posix.basename(temporaryPathFor(job.targetPath, job.chainId ?? job.jobId));
}

/** What the API shows of a job: its state and history, not the engine's bookkeeping (fencing, fingerprints, checkpoints). */
export function toJobView(job: TransferJob) {
  const temporaryFile = temporaryFileOf(job);
  return {
    jobId: job.jobId,
    requestId: job.requestId,
    status: job.status,
    flowType: job.flowType,
    source: { endpointId: job.sourceEndpointId, path: job.sourcePath },
    target: { endpointId: job.targetEndpointId, path: job.targetPath },
    transitions: job.transitions,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    completedAt: job.completedAt,
    attempts: job.attempts,
    executionRegion: job.executionRegion,
    bytesTransferred: job.bytesTransferred ?? 0,
    bytesTotal: job.bytesTotal,
    ...(job.errorCode ? { error: { code: job.errorCode, message: job.errorMessage } } : {}),
    ...(job.result ? { result: job.result } : {}),
    ...(job.redriveOf ? { redriveOf: job.redriveOf } : {}),
    trigger: job.trigger ?? { kind: 'API' },
    ...(job.afterTransfer ? { afterTransfer: job.afterTransfer } : {}),
    // The partner forbids renames: the file was written under its final name directly (no .tmp).
    ...(job.checkpoint?.delivery ? { delivery: job.checkpoint.delivery } : {}),
    ...(temporaryFile ? { temporaryFile } : {}),
  };
}

/**
 * The most job views one POST /transfers answer carries. A folder at the request
 * maximum (10,000 files) would otherwise answer with 5 MB and more (25 MB with
 * the longest paths), over Lambda's 6 MB response limit: the jobs would exist,
 * but the customer would only ever see an error. The answer says how many jobs
 * the request has and where the rest are listed (GET /jobs?requestId=, paged).
 */
export const REQUEST_VIEW_MAX_JOBS = 1000;

export function toTransferRequestView(requestId: string, jobs: TransferJob[], maxJobs = REQUEST_VIEW_MAX_JOBS) {
  return {
    requestId,
    jobCount: jobs.length,
    jobs: jobs.slice(0, maxJobs).map(toJobView),
    ...(jobs.length > maxJobs ? { moreJobs: `/jobs?requestId=${encodeURIComponent(requestId)}` } : {}),
  };
}
