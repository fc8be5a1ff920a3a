import { BATCH_FILE_MAX_BYTES, BATCH_MAX_FILES, planExecutions } from '../../core/control-plane/transfers/batches';
import type { TransferJob } from '../../core/domain/job';

const job = (n: number, extra: Partial<TransferJob> = {}): TransferJob =>
  ({
    jobId: `job_${String(n).padStart(6, '0')}`,
    customerId: 'c',
    flowType: 'SFTP_TO_S3',
    bytesTotal: 1024,
    ...extra,
  }) as TransferJob;

const throughWorker = { serverSideCopy: false };

describe('planExecutions', () => {
  it('runs one small file, large files and re-drives as executions of their own', () => {
    expect(planExecutions([job(1)], throughWorker).map((p) => p.kind)).toEqual(['job']);
    const plans = planExecutions(
      [job(1), job(2), job(3, { bytesTotal: BATCH_FILE_MAX_BYTES + 1 }), job(5, { redriveOf: 'job_0' })],
      throughWorker,
    );
    expect(plans.filter((p) => p.kind === 'job').map((p) => (p.kind === 'job' ? p.job.jobId : ''))).toEqual([
      'job_000003',
      'job_000005',
    ]);
    const batches = plans.filter((p) => p.kind === 'batch');
    expect(batches).toHaveLength(1);
    expect(batches[0]?.kind === 'batch' && batches[0].jobs.map((j) => j.jobId)).toEqual(['job_000001', 'job_000002']);
  });

  it('runs the small files of a server-side copy (S3→S3) as executions of their own: no worker to share', () => {
    const copies = [job(1, { flowType: 'S3_TO_S3' }), job(2, { flowType: 'S3_TO_S3' }), job(3, { flowType: 'S3_TO_S3' })];
    expect(planExecutions(copies, { serverSideCopy: true }).map((p) => (p.kind === 'job' ? p.job.jobId : p.kind))).toEqual([
      'job_000001',
      'job_000002',
      'job_000003',
    ]);
  });

  it('splits many small files into even batches of at most BATCH_MAX_FILES, every file exactly once', () => {
    const jobs = Array.from({ length: 2 * BATCH_MAX_FILES + 1 }, (_, i) => job(i));
    const batches = planExecutions(jobs, throughWorker).flatMap((p) => (p.kind === 'batch' ? [p] : []));
    expect(batches).toHaveLength(3);
    for (const batch of batches) expect(batch.jobs.length).toBeLessThanOrEqual(BATCH_MAX_FILES);
    const ids = batches.flatMap((b) => b.jobs.map((j) => j.jobId));
    expect(new Set(ids).size).toBe(jobs.length);
  });

  it('plans a replay (jobs in any order) into the same batches, with the same names', () => {
    const jobs = Array.from({ length: 3000 }, (_, i) => job(i));
    const names = (list: TransferJob[]) => planExecutions(list, throughWorker).map((p) => (p.kind === 'batch' ? p.batchId : ''));
    expect(names([...jobs].reverse())).toEqual(names(jobs));
    expect(names(jobs)[0]).toMatch(/^batch_[0-9a-z]{26}$/);
    // A different set of files is a different batch.
    expect(names(jobs.slice(1))[0]).not.toEqual(names(jobs)[0]);
  });
});
