import { DynamoLeaseStore } from '../../core/adapters/dynamodb/lease-store';
import { ManualClock } from '../../core/domain/clock';
import { LeaseHeldError, StaleOwnerError } from '../../core/domain/errors';
import { type Lease, tokenOf } from '../../core/domain/lease';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';

const TTL = 30_000;
let dynamo: TestDynamo;
let clock: ManualClock;
let leases: DynamoLeaseStore;
let partitionSeq = 0;
const west = (n = 1) => ({ executionId: `west-exec-${n}`, region: 'us-gov-west-1' });
const east = (n = 1) => ({ executionId: `east-exec-${n}`, region: 'us-gov-east-1' });

beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(() => dynamo.close());
beforeEach(() => {
  clock = new ManualClock();
  leases = new DynamoLeaseStore(dynamo.db, dynamo.tables.leases, clock);
});
const newPartition = () => `cust#src#dst-${++partitionSeq}`;

function settle(results: PromiseSettledResult<Lease>[]) {
  const won = results.filter((r): r is PromiseFulfilledResult<Lease> => r.status === 'fulfilled').map((r) => r.value);
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
  return { won, lost };
}

describe('partition leases against the local DynamoDB', () => {
  it('gives a free partition to its first acquirer at epoch 1', async () => {
    const lease = await leases.acquire(newPartition(), west(), TTL);
    expect(lease).toMatchObject({
      ownerRegion: 'us-gov-west-1',
      epoch: 1,
      expiresAt: clock.now() + TTL,
      executions: ['west-exec-1'],
    });
  });

  it('lets exactly one region win when both regions race for a partition', async () => {
    const partitionId = newPartition();
    const contenders = Array.from({ length: 20 }, (_, i) => (i % 2 ? west(i) : east(i)));
    const { won, lost } = settle(await Promise.allSettled(contenders.map((owner) => leases.acquire(partitionId, owner, TTL))));
    const winningRegion = won[0]?.ownerRegion;
    expect(won.length).toBeGreaterThan(0);
    expect(won.every((lease) => lease.ownerRegion === winningRegion && lease.epoch === 1)).toBe(true);
    expect(won.length + lost.length).toBe(20);
    for (const reason of lost) expect(reason).toBeInstanceOf(LeaseHeldError);
    // Every execution of the winning region holds it, none of the other.
    const stored = await leases.get(partitionId);
    const winners = contenders.filter((c) => c.region === winningRegion).map((c) => c.executionId);
    expect(stored?.executions.sort()).toEqual(winners.sort());
  });

  it('lets executions of the owning region share the lease at the same epoch', async () => {
    const partitionId = newPartition();
    const first = await leases.acquire(partitionId, west(1), TTL);
    clock.advance(1000);
    const second = await leases.acquire(partitionId, west(2), TTL);
    expect(second.epoch).toBe(first.epoch);
    expect(second.executions.sort()).toEqual(['west-exec-1', 'west-exec-2']);
    expect(second.expiresAt).toBe(clock.now() + TTL);
  });

  it('refuses the other region while the holder keeps renewing', async () => {
    const partitionId = newPartition();
    const lease = await leases.acquire(partitionId, west(), TTL);
    for (let i = 0; i < 3; i++) {
      clock.advance(TTL - 1000);
      await leases.renew(tokenOf(lease, 'west-exec-1'), TTL);
      await expect(leases.acquire(partitionId, east(), TTL)).rejects.toBeInstanceOf(LeaseHeldError);
    }
  });

  it('hands an expired lease to the other region with a higher epoch', async () => {
    const partitionId = newPartition();
    const stale = await leases.acquire(partitionId, west(), TTL);
    clock.advance(TTL - 1);
    await expect(leases.acquire(partitionId, east(), TTL)).rejects.toBeInstanceOf(LeaseHeldError);
    clock.advance(2);
    const taken = await leases.acquire(partitionId, east(), TTL);
    expect(taken).toMatchObject({ ownerRegion: 'us-gov-east-1', epoch: stale.epoch + 1, executions: ['east-exec-1'] });
  });

  it('gives an expired lease to one region only when both race to take it over', async () => {
    const partitionId = newPartition();
    await leases.acquire(partitionId, west(), TTL);
    clock.advance(TTL + 1);
    const contenders = Array.from({ length: 12 }, (_, i) => (i % 2 ? west(i + 2) : east(i + 2)));
    const { won } = settle(await Promise.allSettled(contenders.map((owner) => leases.acquire(partitionId, owner, TTL))));
    expect(new Set(won.map((lease) => lease.ownerRegion)).size).toBe(1);
    expect(new Set(won.map((lease) => lease.epoch))).toEqual(new Set([2]));
    expect(
      (await leases.get(partitionId))?.executions.every((e) =>
        e.startsWith(won[0]?.ownerRegion === 'us-gov-west-1' ? 'west' : 'east'),
      ),
    ).toBe(true);
  });

  it('refuses the stale holder’s renew and release after a takeover', async () => {
    const partitionId = newPartition();
    const stale = tokenOf(await leases.acquire(partitionId, west(), TTL), 'west-exec-1');
    clock.advance(TTL + 1);
    const current = await leases.acquire(partitionId, east(), TTL);
    await expect(leases.renew(stale, TTL)).rejects.toBeInstanceOf(StaleOwnerError);
    await expect(leases.release(stale)).rejects.toBeInstanceOf(StaleOwnerError);
    expect(await leases.get(partitionId)).toMatchObject({ ownerRegion: 'us-gov-east-1', epoch: current.epoch });
  });

  it('frees the partition when its last execution releases it, and never reuses an epoch', async () => {
    const partitionId = newPartition();
    const first = tokenOf(await leases.acquire(partitionId, west(1), TTL), 'west-exec-1');
    const second = tokenOf(await leases.acquire(partitionId, west(2), TTL), 'west-exec-2');
    await leases.release(first);
    await expect(leases.acquire(partitionId, east(), TTL)).rejects.toBeInstanceOf(LeaseHeldError);
    await leases.release(second);
    await expect(leases.renew(second, TTL)).rejects.toBeInstanceOf(StaleOwnerError);
    const next = await leases.acquire(partitionId, east(), TTL);
    expect(next.epoch).toBe(first.epoch + 1);
  });
});
