import type { TransferJob } from '../domain/job';

/** What the API shows of a job: its state and history, not the engine's bookkeeping (fencing, fingerprints, checkpoints). */
export function toJobView(job: TransferJob) {
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
    // The partner forbids renames: the file was written under its final name directly (no .tmp).
    ...(job.checkpoint?.delivery ? { delivery: job.checkpoint.delivery } : {}),
  };
}
