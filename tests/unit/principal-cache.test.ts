import { CachedPrincipalDirectory } from '../../core/control-plane/http/identity';
import { ManualClock } from '../../core/domain/clock';
import type { PrincipalDirectory } from '../../core/domain/ports';

const ALICE = 'arn:aws-us-gov:iam::111111111111:user/alice';
const BOB = 'arn:aws-us-gov:iam::222222222222:user/bob';

/** A directory that counts its reads, and whose entries the test changes. */
function directory(entries: Record<string, string>) {
  const reads: string[] = [];
  const store: PrincipalDirectory = {
    customerOf: async (arn) => {
      reads.push(arn);
      return entries[arn];
    },
  };
  return { store, reads, entries };
}

describe('the principal cache of an API container', () => {
  it('answers a known principal from memory within the TTL, then reads the directory again', async () => {
    const clock = new ManualClock();
    const dir = directory({ [ALICE]: 'customer-a' });
    const cache = new CachedPrincipalDirectory(dir.store, clock, 60_000);
    expect(await cache.customerOf(ALICE)).toBe('customer-a');
    clock.advance(59_999);
    expect(await cache.customerOf(ALICE)).toBe('customer-a');
    expect(dir.reads).toEqual([ALICE]);
    delete dir.entries[ALICE]; // offboarded
    clock.advance(1);
    expect(await cache.customerOf(ALICE)).toBeUndefined();
    expect(dir.reads).toEqual([ALICE, ALICE]);
  });

  it('never remembers an unknown principal, so one registered later is admitted at once', async () => {
    const clock = new ManualClock();
    const dir = directory({});
    const cache = new CachedPrincipalDirectory(dir.store, clock);
    expect(await cache.customerOf(BOB)).toBeUndefined();
    dir.entries[BOB] = 'customer-b';
    expect(await cache.customerOf(BOB)).toBe('customer-b');
  });

  it('keeps each principal to its own customer', async () => {
    const clock = new ManualClock();
    const dir = directory({ [ALICE]: 'customer-a', [BOB]: 'customer-b' });
    const cache = new CachedPrincipalDirectory(dir.store, clock);
    expect([await cache.customerOf(ALICE), await cache.customerOf(BOB)]).toEqual(['customer-a', 'customer-b']);
    expect([await cache.customerOf(BOB), await cache.customerOf(ALICE)]).toEqual(['customer-b', 'customer-a']);
  });
});
