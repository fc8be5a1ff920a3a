import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
  type KeysAndAttributes,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_MAX = 100;
const UNPROCESSED_ATTEMPTS = 6;

/**
 * Reads of single items, coalesced: those asked for in the same turn of the event loop are read
 * together by `readMany` (one BatchGetItem), each caller getting its own item. Nothing is cached:
 * every get() is a read made after it was asked for, so it sees every write completed before.
 */
export class CoalescedReads<K, T> {
  private pending = new Map<
    string,
    { key: K; waiting: Array<{ resolve: (item: T | undefined) => void; reject: (error: unknown) => void }> }
  >();
  private scheduled = false;

  constructor(
    private readonly readMany: (keys: K[]) => Promise<T[]>,
    private readonly idOf: (keyOrItem: K | T) => string,
  ) {}

  get(key: K): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      const id = this.idOf(key);
      const entry = this.pending.get(id) ?? { key, waiting: [] };
      entry.waiting.push({ resolve, reject });
      this.pending.set(id, entry);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const entries = [...this.pending.values()];
    this.pending = new Map();
    for (let start = 0; start < entries.length; start += BATCH_GET_MAX) {
      const chunk = entries.slice(start, start + BATCH_GET_MAX);
      this.readMany(chunk.map((entry) => entry.key)).then(
        (items) => {
          const found = new Map(items.map((item) => [this.idOf(item), item]));
          for (const entry of chunk) {
            const item = found.get(this.idOf(entry.key));
            for (const waiter of entry.waiting) waiter.resolve(item);
          }
        },
        (error: unknown) => {
          for (const entry of chunk) for (const waiter of entry.waiting) waiter.reject(error);
        },
      );
    }
  }
}

/** Consistent BatchGetItem of `keys` (≤ 100) in `table`, again for what DynamoDB left unprocessed. */
export async function batchGet<T>(db: DynamoDBClient, table: string, keys: readonly object[]): Promise<T[]> {
  const items: T[] = [];
  let request: KeysAndAttributes | undefined = {
    Keys: keys.map((key) => marshall(key) as Record<string, AttributeValue>),
    ConsistentRead: true,
  };
  for (let attempt = 0; request?.Keys?.length; attempt++) {
    if (attempt === UNPROCESSED_ATTEMPTS) throw new Error(`${request.Keys.length} items of ${table} could not be read`);
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
    const result: BatchGetItemCommandOutput = await db.send(new BatchGetItemCommand({ RequestItems: { [table]: request } }));
    items.push(...(result.Responses?.[table] ?? []).map((item) => unmarshall(item) as T));
    request = result.UnprocessedKeys?.[table];
  }
  return items;
}
