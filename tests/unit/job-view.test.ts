import { posix } from 'node:path';
import { temporaryPathFor } from '../../core/adapters/sftp/transfer/target';
import { toJobView } from '../../core/control-plane/transfers/view';
import type { TransferJob } from '../../core/domain/job';

const at = '2026-12-03T00:00:00.000Z';
function job(overrides: Partial<TransferJob>): TransferJob {
  return {
    jobId: 'job_first',
    customerId: 'cust',
    flowType: 'S3_TO_SFTP',
    sourceEndpointId: 'ep_s',
    sourcePath: 'a.csv',
    targetEndpointId: 'ep_t',
    targetPath: 'in/a.csv',
    partitionId: 'cust#ep_s#ep_t',
    idempotencyKey: 'k',
    requestFingerprint: 'f',
    status: 'FAILED',
    attempts: 1,
    createdAt: at,
    startedAt: at,
    updatedAt: at,
    transitions: [],
    ...overrides,
  };
}

describe('the job view names the temporary file an ended, undelivered SFTP job may have left', () => {
  test("the name is the one the worker writes: the chain's, the same for a keyless re-drive", () => {
    // The worker's path is the endpoint's base path joined with the job's; the file name is the same.
    const name = posix.basename(temporaryPathFor('/base/in/a.csv', 'job_first'));
    expect(toJobView(job({})).temporaryFile).toBe(name);
    expect(toJobView(job({ status: 'CANCELLED' })).temporaryFile).toBe(name);
    expect(toJobView(job({ jobId: 'job_redrive', redriveOf: 'job_first', chainId: 'job_first' })).temporaryFile).toBe(name);
    expect(toJobView(job({ jobId: 'job_keyed', redriveOf: 'job_first' })).temporaryFile).not.toBe(name);
  });

  test('none where no attempt can have left one', () => {
    for (const status of ['RECEIVED', 'QUEUED', 'RUNNING', 'VERIFYING', 'SUCCEEDED'] as const) {
      expect(toJobView(job({ status })).temporaryFile).toBeUndefined();
    }
    const { startedAt: _, ...neverStarted } = job({ status: 'CANCELLED' });
    expect(toJobView(neverStarted).temporaryFile).toBeUndefined();
    expect(toJobView(job({ flowType: 'SFTP_TO_S3' })).temporaryFile).toBeUndefined();
    expect(
      toJobView(job({ checkpoint: { delivery: 'direct-write', directWrite: '/base/in/a.csv' } })).temporaryFile,
    ).toBeUndefined();
  });
});
