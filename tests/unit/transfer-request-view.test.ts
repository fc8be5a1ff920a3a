import { MAX_FILES_PER_REQUEST } from '../../core/control-plane/transfers/service';
import { REQUEST_VIEW_MAX_JOBS, toTransferRequestView } from '../../core/control-plane/transfers/view';
import type { FlowType, TransferJob } from '../../core/domain/job';

/** Lambda refuses a response payload over 6 MB (the function fails, the caller gets a 5xx). */
const LAMBDA_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024;

const job = (n: number, pathLength = 20): TransferJob => {
  const name = `f-${n}-`.padEnd(pathLength, 'x');
  const at = '2026-11-22T00:00:00.000Z';
  return {
    jobId: `job_${String(n).padStart(26, '0')}`,
    customerId: 'c',
    requestId: 'req_1',
    flowType: 'SFTP_TO_S3' as FlowType,
    status: 'QUEUED',
    sourceEndpointId: 'ep_src',
    sourcePath: name,
    targetEndpointId: 'ep_dst',
    targetPath: name,
    attempts: 0,
    createdAt: at,
    updatedAt: at,
    transitions: [
      { status: 'RECEIVED', at, region: 'us-gov-west-1', actor: 'customer:c' },
      { status: 'QUEUED', at, region: 'us-gov-west-1', actor: 'customer:c' },
    ],
  } as TransferJob;
};

describe('the POST /transfers answer', () => {
  it('shows every job of a request up to the limit', () => {
    const view = toTransferRequestView('req_1', [job(1), job(2), job(3)], 3);
    expect(view).toMatchObject({ requestId: 'req_1', jobCount: 3 });
    expect(view.jobs.map((j) => j.jobId)).toEqual([job(1).jobId, job(2).jobId, job(3).jobId]);
    expect(view).not.toHaveProperty('moreJobs');
  });

  it('shows the first jobs of a larger request, its job count and where to list the rest', () => {
    const view = toTransferRequestView('req_1', [job(1), job(2), job(3), job(4)], 3);
    expect(view.jobCount).toBe(4);
    expect(view.jobs.map((j) => j.jobId)).toEqual([job(1).jobId, job(2).jobId, job(3).jobId]);
    expect(view.moreJobs).toBe('/jobs?requestId=req_1');
  });

  it('fits in a Lambda response for the largest request with the longest paths', () => {
    const jobs = Array.from({ length: MAX_FILES_PER_REQUEST }, (_, i) => job(i, 1024));
    const view = toTransferRequestView('req_1', jobs);
    expect(view.jobs).toHaveLength(REQUEST_VIEW_MAX_JOBS);
    expect(Buffer.byteLength(JSON.stringify(view))).toBeLessThan(LAMBDA_RESPONSE_LIMIT_BYTES);
  });
});
