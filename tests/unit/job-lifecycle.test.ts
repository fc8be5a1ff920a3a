import { timeOrderedId } from '../../core/domain/ids';
import {
  canTransition,
  deriveIdempotencyKey,
  ENTERED_FROM,
  isTerminal,
  JOB_STATUSES,
  type JobStatus,
  jobIdFor,
  partitionIdFor,
} from '../../core/domain/job';

const ORDER: Record<JobStatus, number> = {
  RECEIVED: 0,
  QUEUED: 1,
  RUNNING: 2,
  VERIFYING: 3,
  SUCCEEDED: 4,
  FAILED: 4,
  CANCELLED: 4,
};

describe('job lifecycle', () => {
  it('only ever moves forward', () => {
    for (const to of JOB_STATUSES) {
      for (const from of ENTERED_FROM[to]) expect(ORDER[to]).toBeGreaterThan(ORDER[from]);
    }
  });

  it('never leaves a terminal state', () => {
    for (const from of JOB_STATUSES.filter(isTerminal)) {
      for (const to of JOB_STATUSES) expect(canTransition(from, to)).toBe(false);
    }
  });

  it('allows cancel of any job not ended (after the start only under its lease, which the job store enforces)', () => {
    expect(JOB_STATUSES.filter((from) => canTransition(from, 'CANCELLED'))).toEqual([
      'RECEIVED',
      'QUEUED',
      'RUNNING',
      'VERIFYING',
    ]);
  });

  it('walks the happy path RECEIVED → QUEUED → RUNNING → VERIFYING → SUCCEEDED', () => {
    const path: JobStatus[] = ['RECEIVED', 'QUEUED', 'RUNNING', 'VERIFYING', 'SUCCEEDED'];
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1] as JobStatus, path[i] as JobStatus)).toBe(true);
  });
});

describe('idempotency key', () => {
  const base = {
    sourceEndpointId: 'ep_a',
    targetEndpointId: 'ep_b',
    sourcePath: '/in/file.csv',
    targetPath: 'out/file.csv',
    file: { size: 10, modifiedAt: 1000 },
  };

  it('is the same for the same file version', () => {
    expect(deriveIdempotencyKey({ ...base })).toBe(deriveIdempotencyKey({ ...base, file: { modifiedAt: 1000, size: 10 } }));
  });

  it.each([
    ['source endpoint', { sourceEndpointId: 'ep_c' }],
    ['target endpoint', { targetEndpointId: 'ep_c' }],
    ['source path', { sourcePath: '/in/other.csv' }],
    ['target path', { targetPath: 'out/other.csv' }],
    ['size', { file: { size: 11, modifiedAt: 1000 } }],
    ['modification time', { file: { size: 10, modifiedAt: 1001 } }],
    ['version', { file: { size: 10, modifiedAt: 1000, version: 'v2' } }],
  ])('changes with the %s', (_name, change) => {
    expect(deriveIdempotencyKey({ ...base, ...change })).not.toBe(deriveIdempotencyKey(base));
  });

  it('cannot be forged by moving characters between fields', () => {
    const a = deriveIdempotencyKey({ ...base, sourceEndpointId: 'ep_a', sourcePath: 'b/x' });
    const b = deriveIdempotencyKey({ ...base, sourceEndpointId: 'ep_ab', sourcePath: '/x' });
    expect(a).not.toBe(b);
  });

  it('gives per-customer job ids', () => {
    expect(jobIdFor('cust-1', 'k')).toBe(jobIdFor('cust-1', 'k'));
    expect(jobIdFor('cust-1', 'k')).not.toBe(jobIdFor('cust-2', 'k'));
    expect(jobIdFor('cust-1', 'k')).toMatch(/^job_[0-9a-z]{26}$/);
  });

  it('partitions by customer, source and target', () => {
    expect(partitionIdFor('c', 's', 't')).toBe('c#s#t');
  });
});

describe('ids', () => {
  it('gives time-ordered ids of a fixed length that sort by creation time', () => {
    const ids = [1, 2, 1000, 2 ** 40].map((t) => timeOrderedId('ep', t));
    for (const id of ids) expect(id).toMatch(/^ep_[0-9a-z]{26}$/);
    expect([...ids].sort()).toEqual(ids);
  });

  it('keeps ids made in the same millisecond in the order they were made (an audit trail never swaps events)', () => {
    const ids = Array.from({ length: 1000 }, () => timeOrderedId('evt', 5_000_000));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});
