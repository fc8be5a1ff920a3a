import { DynamoLeaseStore } from '../../core/adapters/dynamodb/lease-store';
import { ManualClock } from '../../core/domain/clock';
import { LeaseHeldError, StaleOwnerError } from '../../core/domain/errors';
import { tokenOf } from '../../core/domain/lease';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';

const TTL = 30_000;
let dynamo: TestDynamo;
let clock: ManualClock;
let leases: DynamoLeaseStore;
let partitionSeq = 0;
const west = (n = 1) => ({ ownerId: `west-exec-${n}`, ownerRegion: 'us-gov-west-1' });
const east = (n = 1) => ({ ownerId: `east-exec-${n}`, ownerRegion: 'us-gov-east-1' });

beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(() => dynamo.close());
beforeEach(() => {
  clock = new ManualClock();
  leases = new DynamoLeaseStore(dynamo.db, dynamo.tables.leases, clock);
});
const newPartition = () => `cust#src#dst-${++partitionSeq}`;

describe('partition leases against the local DynamoDB', () => {
  it('gives a free partition to its first acquirer at epoch 1', async () => {
    const lease = await leases.acquire(newPartition(), west(), TTL);
    expect(lease).toMatchObject({ ownerId: 'west-exec-1', ownerRegion: 'us-gov-west-1', epoch: 1, expiresAt: clock.now() + TTL });
  });

  it('lets exactly one of many concurrent acquirers win', async () => {
    const partitionId = newPartition();
    const contenders = Array.from({ length: 20 }, (_, i) => (i % 2 ? west(i) : east(i)));
    const results = await Promise.allSettled(contenders.map((owner) => leases.acquire(partitionId, owner, TTL)));
    const winners = results.filter((r) => r.status === 'fulfilled');
    const losers = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(19);
    for (const loser of losers) expect(loser.reason).toBeInstanceOf(LeaseHeldError);
    const stored = await leases.get(partitionId);
    expect(stored?.ownerId).toBe((winners[0] as PromiseFulfilledResult<{ ownerId: string }>).value.ownerId);
    expect(stored?.epoch).toBe(1);
  });

  it('keeps the epoch when the holder re-acquires (a retried acquire step)', async () => {
    const partitionId = newPartition();
    const first = await leases.acquire(partitionId, west(), TTL);
    clock.advance(1000);
    const again = await leases.acquire(partitionId, west(), TTL);
    expect(again.epoch).toBe(first.epoch);
    expect(again.expiresAt).toBe(clock.now() + TTL);
  });

  it('refuses a contender while the holder keeps renewing', async () => {
    const partitionId = newPartition();
    const lease = await leases.acquire(partitionId, west(), TTL);
    for (let i = 0; i < 3; i++) {
      clock.advance(TTL - 1000);
      await leases.renew(tokenOf(lease), TTL);
      await expect(leases.acquire(partitionId, east(), TTL)).rejects.toBeInstanceOf(LeaseHeldError);
    }
  });

  it('hands an expired lease to a contender with a higher epoch', async () => {
    const partitionId = newPartition();
    const stale = await leases.acquire(partitionId, west(), TTL);
    clock.advance(TTL - 1);
    await expect(leases.acquire(partitionId, east(), TTL)).rejects.toBeInstanceOf(LeaseHeldError);
    clock.advance(2);
    const taken = await leases.acquire(partitionId, east(), TTL);
    expect(taken.ownerRegion).toBe('us-gov-east-1');
    expect(taken.epoch).toBe(stale.epoch + 1);
  });

  it('lets exactly one of many contenders take over an expired lease', async () => {
    const partitionId = newPartition();
    await leases.acquire(partitionId, west(), TTL);
    clock.advance(TTL + 1);
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => leases.acquire(partitionId, east(i + 2), TTL)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await leases.get(partitionId))?.epoch).toBe(2);
  });

  it('refuses the stale holder’s renew and release after a takeover', async () => {
    const partitionId = newPartition();
    const stale = await leases.acquire(partitionId, west(), TTL);
    clock.advance(TTL + 1);
    const current = await leases.acquire(partitionId, east(), TTL);
    await expect(leases.renew(tokenOf(stale), TTL)).rejects.toBeInstanceOf(StaleOwnerError);
    await expect(leases.release(tokenOf(stale))).rejects.toBeInstanceOf(StaleOwnerError);
    expect(await leases.get(partitionId)).toMatchObject({ ownerId: current.ownerId, epoch: current.epoch });
  });

  it('frees the partition on release and never reuses an epoch', async () => {
    const partitionId = newPartition();
    const first = await leases.acquire(partitionId, west(), TTL);
    await leases.release(tokenOf(first));
    await expect(leases.renew(tokenOf(first), TTL)).rejects.toBeInstanceOf(StaleOwnerError);
    const next = await leases.acquire(partitionId, east(), TTL);
    expect(next.epoch).toBe(first.epoch + 1);
  });
});
