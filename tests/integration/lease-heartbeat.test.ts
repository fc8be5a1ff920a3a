/**
 * The one lease heartbeat (the Lambda copy's and the worker's) against the
 * lease store on the local DynamoDB. Time is a ManualClock shared by the store
 * and the heartbeat; the beats come from the test (heartbeat.beat()), the
 * timer's interval being far longer than any test.
 */
import { DynamoLeaseStore } from '../../core/adapters/dynamodb/lease-store';
import { withLeaseHeartbeat } from '../../core/control-plane/orchestration/heartbeat';
import { ManualClock } from '../../core/domain/clock';
import { StaleOwnerError } from '../../core/domain/errors';
import { type LeaseToken, tokenOf } from '../../core/domain/lease';
import { LeaseExpiredError, LeaseHeartbeat } from '../../core/domain/lease-heartbeat';
import type { LeaseStore } from '../../core/domain/ports';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';

const TTL = 30_000;
const TIMING = { leaseTtlMs: TTL, heartbeatMs: 60 * 60_000 };
const WEST = { executionId: 'west-exec-1', region: 'us-gov-west-1' };
const EAST = { executionId: 'east-exec-1', region: 'us-gov-east-1' };

let dynamo: TestDynamo;
let clock: ManualClock;
let store: DynamoLeaseStore;
let partitionSeq = 0;

beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(() => dynamo.close());
beforeEach(() => {
  clock = new ManualClock();
  store = new DynamoLeaseStore(dynamo.db, dynamo.tables.leases, clock);
});

/** The real store, except that renewals fail (as if DynamoDB were unreachable) while `unreachable` is set. */
class FlakyLeaseStore implements LeaseStore {
  unreachable: Error | undefined;
  constructor(private readonly inner: LeaseStore) {}
  acquire: LeaseStore['acquire'] = (...args) => this.inner.acquire(...args);
  release: LeaseStore['release'] = (...args) => this.inner.release(...args);
  get: LeaseStore['get'] = (...args) => this.inner.get(...args);
  renew: LeaseStore['renew'] = (...args) => (this.unreachable ? Promise.reject(this.unreachable) : this.inner.renew(...args));
}

async function heldByWest(): Promise<LeaseToken> {
  const lease = await store.acquire(`cust#src#dst-hb-${++partitionSeq}`, WEST, TTL);
  return tokenOf(lease, WEST.executionId);
}

function heartbeatOver(leases: LeaseStore, token: LeaseToken) {
  const lost: unknown[] = [];
  const failures: { error: unknown; silentForMs: number }[] = [];
  const heartbeat = new LeaseHeartbeat(leases, clock, token, TIMING, {
    onLost: (reason) => lost.push(reason),
    onRenewalFailed: (error, silentForMs) => failures.push({ error, silentForMs }),
  });
  return { heartbeat, lost, failures };
}

describe('the lease heartbeat', () => {
  it('ends the mandate once, with the StaleOwnerError, when another region took the lease over', async () => {
    const token = await heldByWest();
    const { heartbeat, lost, failures } = heartbeatOver(store, token);
    await heartbeat.start();
    try {
      clock.advance(TTL + 1);
      const east = await store.acquire(token.partitionId, EAST, TTL);
      expect(east.epoch).toBe(token.epoch + 1);

      await heartbeat.beat();
      await heartbeat.beat();

      expect(lost).toHaveLength(1);
      expect(lost[0]).toBeInstanceOf(StaleOwnerError);
      expect(lost[0]).not.toBeInstanceOf(LeaseExpiredError);
      expect(heartbeat.lost).toBe(lost[0]);
      expect(failures).toEqual([]); // refused, not failed: no retrying
      await expect(heartbeat.confirm()).rejects.toBe(lost[0]);
      expect((await store.get(token.partitionId))?.ownerRegion).toBe('us-gov-east-1');
    } finally {
      heartbeat.stop();
    }
  });

  it('lets a write of the lease less than freshForMs old answer for a confirm, and renews once it is older', async () => {
    const token = await heldByWest(); // acquired now: renewedAt is this moment
    const renewals: number[] = [];
    const counting: LeaseStore = {
      acquire: (...args) => store.acquire(...args),
      release: (...args) => store.release(...args),
      get: (...args) => store.get(...args),
      renew: (...args) => {
        renewals.push(clock.now());
        return store.renew(...args);
      },
    };
    const fresh = new LeaseHeartbeat(counting, clock, token, { ...TIMING, freshForMs: 1000 }, { onLost: () => undefined });
    await fresh.start();
    clock.advance(999);
    await fresh.confirm();
    expect(renewals).toEqual([]);

    clock.advance(1);
    await fresh.confirm();
    expect(renewals).toEqual([clock.now()]);
    expect((await store.get(token.partitionId))?.expiresAt).toBe(clock.now() + TTL);
    clock.advance(999);
    await fresh.confirm(); // the renewal just made answers now
    expect(renewals).toHaveLength(1);

    // A token that does not say when the lease was written (a worker's, from its environment): renewed at once.
    const { renewedAt: _unknown, ...withoutTime } = token;
    const unknown = new LeaseHeartbeat(
      counting,
      clock,
      withoutTime,
      { ...TIMING, freshForMs: 1000 },
      { onLost: () => undefined },
    );
    await unknown.start();
    expect(renewals).toHaveLength(2);
    fresh.stop();
    unknown.stop();
  });

  it('rides out failed renewals until a whole TTL has passed without one, then ends with LeaseExpiredError', async () => {
    const token = await heldByWest();
    const leases = new FlakyLeaseStore(store);
    const { heartbeat, lost, failures } = heartbeatOver(leases, token);
    await heartbeat.start();
    try {
      const unreachable = new Error('DynamoDB unreachable');
      leases.unreachable = unreachable;
      clock.advance(TTL / 3);
      await heartbeat.beat();
      clock.advance(TTL / 3);
      await heartbeat.beat();
      expect(failures).toEqual([
        { error: unreachable, silentForMs: TTL / 3 },
        { error: unreachable, silentForMs: (2 * TTL) / 3 },
      ]);
      expect(lost).toEqual([]);

      // A renewal that gets through starts the count again.
      leases.unreachable = undefined;
      clock.advance(TTL / 6);
      await heartbeat.beat();
      expect((await store.get(token.partitionId))?.expiresAt).toBe(clock.now() + TTL);
      leases.unreachable = unreachable;
      clock.advance(TTL - 1);
      await heartbeat.beat();
      expect(failures.at(-1)).toEqual({ error: unreachable, silentForMs: TTL - 1 });
      expect(lost).toEqual([]);
      await expect(heartbeat.confirm()).rejects.toBe(unreachable); // still held: the caller sees the failure itself
      expect(heartbeat.lost).toBeUndefined();

      clock.advance(1);
      await heartbeat.beat();
      expect(lost).toHaveLength(1);
      expect(lost[0]).toBeInstanceOf(LeaseExpiredError);
      expect(lost[0]).toBeInstanceOf(StaleOwnerError);
      expect((lost[0] as Error).message).toBe(`the lease could not be renewed for ${TTL} ms; another region may have taken it`);

      // Over: even once DynamoDB answers again, the mandate does not come back.
      leases.unreachable = undefined;
      await heartbeat.beat();
      await expect(heartbeat.confirm()).rejects.toBe(lost[0]);
      expect(lost).toHaveLength(1);
    } finally {
      heartbeat.stop();
    }
  });
});

describe('withLeaseHeartbeat (the Lambda S3→S3 copy)', () => {
  it('aborts the work once the lease is taken over and throws the refusal, even if the work swallowed it', async () => {
    const token = await heldByWest();
    let aborted: unknown;
    const outcome = withLeaseHeartbeat(
      store,
      token,
      TTL,
      async (signal, renewNow) => {
        clock.advance(TTL + 1);
        await store.acquire(token.partitionId, EAST, TTL);
        await renewNow().catch(() => undefined);
        aborted = signal.reason;
        return 'committed';
      },
      clock,
    );
    await expect(outcome).rejects.toBeInstanceOf(StaleOwnerError);
    await expect(outcome).rejects.toBe(aborted);
  });

  it('returns what the work returns while the lease is held, renewing it', async () => {
    const token = await heldByWest();
    const result = withLeaseHeartbeat(
      store,
      token,
      TTL,
      async (_signal, renewNow) => {
        clock.advance(TTL / 2);
        await renewNow();
        return 'done';
      },
      clock,
    );
    await expect(result).resolves.toBe('done');
    expect((await store.get(token.partitionId))?.expiresAt).toBe(clock.now() + TTL);
  });
});
