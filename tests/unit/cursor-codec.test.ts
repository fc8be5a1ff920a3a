import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { CursorCodec } from '../../core/adapters/dynamodb/pagination';
import { ValidationError } from '../../core/domain/errors';

const KEY = 'k'.repeat(64);
const scope = { customerId: 'customer-a', listing: 'endpoints' };
const lastKey: Record<string, AttributeValue> = { customerId: { S: 'customer-a' }, endpointId: { S: 'ep_01' } };

/** The secret as the store hands it out, counting the reads. */
function keySource(values: Array<string | Error>) {
  let reads = 0;
  const source = async () => {
    const value = values[Math.min(reads++, values.length - 1)];
    if (value instanceof Error) throw value;
    return value as string;
  };
  return { source, reads: () => reads };
}

describe('list cursors', () => {
  it('round-trip for the scope they were issued for', async () => {
    const codec = new CursorCodec(keySource([KEY]).source);
    const cursor = await codec.encode(scope, lastKey);
    expect(await codec.decode(scope, cursor)).toEqual(lastKey);
    expect(await codec.encode(scope, undefined)).toBeUndefined();
    expect(await codec.decode(scope, undefined)).toBeUndefined();
  });

  it('are refused for another customer, another listing, or under another key', async () => {
    const cursor = await new CursorCodec(keySource([KEY]).source).encode(scope, lastKey);
    const codec = new CursorCodec(keySource([KEY]).source);
    const otherKey = new CursorCodec(keySource(['o'.repeat(64)]).source);
    for (const attempt of [
      codec.decode({ ...scope, customerId: 'customer-b' }, cursor),
      codec.decode({ ...scope, listing: 'jobs' }, cursor),
      otherKey.decode(scope, cursor),
    ]) {
      await expect(attempt).rejects.toEqual(
        new ValidationError([{ field: 'cursor', message: 'is not a cursor this API issued' }]),
      );
    }
  });

  it('read the key once per container, and again after a failed read', async () => {
    const key = keySource([new Error('throttled'), KEY]);
    const codec = new CursorCodec(key.source);
    await expect(codec.encode(scope, lastKey)).rejects.toThrow('the cursor key secret could not be read');
    const cursor = await codec.encode(scope, lastKey);
    for (let i = 0; i < 5; i++) await codec.decode(scope, cursor);
    expect(key.reads()).toBe(2);
  });

  it('need no key when nothing pages', async () => {
    const key = keySource([KEY]);
    const codec = new CursorCodec(key.source);
    await codec.encode(scope, undefined);
    await codec.decode(scope, undefined);
    expect(key.reads()).toBe(0);
  });

  it('refuse a key too short to be the stack’s secret', async () => {
    await expect(new CursorCodec(keySource(['short']).source).encode(scope, lastKey)).rejects.toThrow('shorter than 32');
  });
});
