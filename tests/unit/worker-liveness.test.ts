/**
 * The worker's lease heartbeat and progress writes, with fake timers (Date
 * moves with them) and in-memory stand-ins for the fenced stores.
 */

import { Liveness } from '../../core/data-plane/liveness';
import { StaleOwnerError } from '../../core/domain/errors';
import type { JobWork, TransferJob } from '../../core/domain/job';
import type { Lease, LeaseToken } from '../../core/domain/lease';
import type { JobStore, LeaseStore } from '../../core/domain/ports';
import { LeaseLostError } from '../../core/domain/transfer/errors';
import { createLogger } from '../../core/observability/logger';

const TOKEN: LeaseToken = { partitionId: 'c#a#b', executionId: 'exec-1', region: 'us-gov-west-1', epoch: 4 };
const KEY = { customerId: 'c', jobId: 'job_1' };
const CONFIG = { leaseTtlMs: 3000, heartbeatMs: 1000, progressIntervalMs: 1000 };

function fakes() {
  const writes: JobWork[] = [];
  const renewals: number[] = [];
  let renewFails: Error | undefined;
  let recordFails: Error | undefined;
  const jobs = {
    recordWork: async (_key: unknown, _fence: LeaseToken, work: JobWork) => {
      if (recordFails) throw recordFails;
      writes.push(work);
      return {} as TransferJob;
    },
  } as unknown as JobStore;
  const leases = {
    renew: async () => {
      renewals.push(Date.now());
      if (renewFails) throw renewFails;
      return {} as Lease;
    },
  } as unknown as LeaseStore;
  const lost: LeaseLostError[] = [];
  const liveness = new Liveness(
    { jobs, leases, clock: { now: () => Date.now() }, logger: createLogger({}, () => undefined) },
    KEY,
    TOKEN,
    CONFIG,
    (error) => lost.push(error),
    { staged: { key: 'k' } },
  );
  return {
    liveness,
    writes,
    renewals,
    lost,
    failRenew: (e: Error | undefined) => {
      renewFails = e;
    },
    failRecord: (e: Error | undefined) => {
      recordFails = e;
    },
  };
}

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

test('renews at start and then every heartbeat', async () => {
  const f = fakes();
  await f.liveness.start();
  await jest.advanceTimersByTimeAsync(3500);
  await f.liveness.stop();
  expect(f.renewals).toHaveLength(4);
  await jest.advanceTimersByTimeAsync(5000);
  expect(f.renewals).toHaveLength(4); // stopped
});

test('progress is written at most once per interval, with the latest numbers', async () => {
  const f = fakes();
  await f.liveness.start();
  for (let i = 1; i <= 500; i++) {
    f.liveness.progress(i * 10, 5000);
    await jest.advanceTimersByTimeAsync(10);
  }
  await jest.advanceTimersByTimeAsync(1000);
  await f.liveness.stop();
  // 5 s of calls: about one write per second, never a burst.
  expect(f.writes.length).toBeGreaterThanOrEqual(4);
  expect(f.writes.length).toBeLessThanOrEqual(6);
  expect(f.writes.at(-1)).toEqual({ bytesTransferred: 5000, bytesTotal: 5000 });
});

test('a progress write due after closeProgress is dropped, so it cannot overwrite the outcome', async () => {
  const f = fakes();
  await f.liveness.start();
  f.liveness.progress(1, 10);
  await jest.advanceTimersByTimeAsync(1);
  f.liveness.progress(5, 10); // due a second after the first write
  f.liveness.closeProgress();
  await f.liveness.record({ bytesTransferred: 10, bytesTotal: 10 });
  await jest.advanceTimersByTimeAsync(3000);
  await f.liveness.stop();
  expect(f.writes.at(-1)).toEqual({ bytesTransferred: 10, bytesTotal: 10 });
});

test('checkpoints merge into the job checkpoint; undefined removes a field', async () => {
  const f = fakes();
  await f.liveness.saveCheckpoint({ multipart: { uploadId: 'u1' } });
  await f.liveness.saveCheckpoint({ multipart: undefined, delivery: 'direct-write' });
  expect(f.writes).toEqual([
    { checkpoint: { staged: { key: 'k' }, multipart: { uploadId: 'u1' } } },
    { checkpoint: { staged: { key: 'k' }, delivery: 'direct-write' } },
  ]);
});

test('a stale lease on a heartbeat aborts at once, and nothing more is written', async () => {
  const f = fakes();
  await f.liveness.start();
  f.failRenew(new StaleOwnerError('epoch 5 now'));
  await jest.advanceTimersByTimeAsync(1000);
  expect(f.lost).toHaveLength(1);
  expect(f.lost[0]).toBeInstanceOf(LeaseLostError);
  await expect(f.liveness.record({ bytesTransferred: 1 })).rejects.toBeInstanceOf(LeaseLostError);
  await expect(f.liveness.confirmLease()).rejects.toBeInstanceOf(LeaseLostError);
  expect(f.writes).toEqual([]);
  await f.liveness.stop();
});

test('a stale write (the job was written under a newer epoch) aborts too', async () => {
  const f = fakes();
  await f.liveness.start();
  f.failRecord(new StaleOwnerError('job written under epoch 5'));
  await expect(f.liveness.saveCheckpoint({ x: 1 })).rejects.toBeInstanceOf(LeaseLostError);
  expect(f.lost).toHaveLength(1);
  await f.liveness.stop();
});

test('a lease that cannot be renewed for a whole TTL counts as lost', async () => {
  const f = fakes();
  await f.liveness.start();
  f.failRenew(new Error('DynamoDB unreachable'));
  await jest.advanceTimersByTimeAsync(2000);
  expect(f.lost).toEqual([]); // transient so far
  await jest.advanceTimersByTimeAsync(1000);
  expect(f.lost).toHaveLength(1);
  expect(f.lost[0]?.message).toContain('could not be renewed');
  await f.liveness.stop();
});

test('a lease already lost when the worker starts fails start()', async () => {
  const f = fakes();
  f.failRenew(new StaleOwnerError('epoch 5 now'));
  await expect(f.liveness.start()).rejects.toBeInstanceOf(LeaseLostError);
  expect(f.lost).toHaveLength(1);
});
