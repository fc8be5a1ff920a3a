/**
 * Two-region DynamoDB, locally, behaving like global tables where it matters to
 * the engine: each region reads and writes its own replica (a dynalite of its
 * own), conditions are checked against that replica only, and every successful
 * write reaches the other replica after a lag, with conflicts resolved
 * last-writer-wins. So during the lag both regions can win the same
 * conditional write (e.g. a partition lease): what fencing must survive.
 *
 * dynalite has no streams, so a small HTTP proxy in front of each replica sees
 * the writes: after a successful PutItem, UpdateItem, DeleteItem or
 * BatchWriteItem it waits `lagMs`, reads the item's image from the source
 * replica (GetItem by its key) and puts it at the peer (or deletes it there if
 * the source has none). Each replica remembers, per item, the time of the last
 * write it took (local, or replicated with the origin's time); a replicated
 * write older than that is dropped, as global tables drop the loser of a
 * conflict. Not modelled: transactions (the engine uses none), TTL deletions,
 * streams, per-attribute merges (global tables replicate whole items too).
 */

import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

type AttributeValue = Record<string, unknown>;
type Item = Record<string, AttributeValue>;

export interface ReplicaEndpoint {
  /** The region this replica serves. */
  region: string;
  /** The dynalite behind the proxy. */
  endpoint: string;
}

export interface DynamoReplication {
  /** Per region, the URL its functions use (the proxy in front of its replica). */
  endpoints: Record<string, string>;
  /** Resolves once every write seen so far has been replicated (or dropped). */
  settled(): Promise<void>;
  /** Replicated writes applied, dropped (last-writer-wins) and failed so far. */
  stats(): { applied: number; dropped: number; failed: number };
  /**
   * The lag of writes from now on (the drill's injected partition: a spike longer than the lease TTL
   * lets both regions see a lease as expired and take it). Writes already on their way keep theirs.
   */
  setLag(ms: number): void;
  close(): Promise<void>;
}

/** A successful write's item key, table and the time the replica took it. */
interface SeenWrite {
  table: string;
  key: Item;
  at: number;
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

/** Items' last write time in one replica, by table and key (the key's JSON, attributes in schema order). */
class WriteClock {
  private readonly times = new Map<string, number>();
  get(id: string): number {
    return this.times.get(id) ?? 0;
  }
  /** Records a write; a replica's clock for an item never goes back. */
  record(id: string, at: number): void {
    if (at > this.get(id)) this.times.set(id, at);
  }
}

/**
 * Starts a proxy in front of each replica and the replication between them (two replicas: the
 * engine's two regions). `tables` gives the key schemas (the definitions the replicas were created with).
 */
export async function startDynamoReplication(options: {
  replicas: [ReplicaEndpoint, ReplicaEndpoint];
  tables: CreateTableCommandInput[];
  lagMs: number;
}): Promise<DynamoReplication> {
  const keySchemas = new Map(
    options.tables.map((table) => [table.TableName as string, (table.KeySchema ?? []).map((k) => k.AttributeName as string)]),
  );
  const keyOf = (table: string, item: Item): Item => {
    const names = keySchemas.get(table);
    if (!names) throw new Error(`replication: no key schema for table ${table}`);
    return Object.fromEntries(names.map((name) => [name, item[name] as AttributeValue]));
  };
  const idOf = (table: string, key: Item) => `${table}\u0000${JSON.stringify(keyOf(table, key))}`;
  const clocks = new Map(options.replicas.map((replica) => [replica.region, new WriteClock()]));
  const pending = new Set<Promise<void>>();
  const counters = { applied: 0, dropped: 0, failed: 0 };
  let lagMs = options.lagMs;
  // Distinct times for writes in the same millisecond, so last-writer-wins has an order to go by.
  let lastTime = 0;
  const now = () => {
    lastTime = Math.max(Date.now() * 1000, lastTime + 1);
    return lastTime;
  };

  const replicate = async (source: ReplicaEndpoint, peer: ReplicaEndpoint, write: SeenWrite) => {
    const id = idOf(write.table, write.key);
    // The source's image now (later local writes included: they are replicated too, and win anyway).
    const image = await call(source.endpoint, 'GetItem', { TableName: write.table, Key: write.key, ConsistentRead: true });
    const peerClock = clocks.get(peer.region) as WriteClock;
    // Last writer wins: the peer took a later write of this item (its own, or the other's replicated).
    if (peerClock.get(id) > write.at || (peerClock.get(id) === write.at && peer.region < source.region)) {
      counters.dropped++;
      return;
    }
    const item = (image.body as { Item?: Item }).Item;
    const applied = item
      ? await call(peer.endpoint, 'PutItem', { TableName: write.table, Item: item })
      : await call(peer.endpoint, 'DeleteItem', { TableName: write.table, Key: write.key });
    if (applied.status !== 200) throw new Error(`replication to ${peer.region} failed: ${JSON.stringify(applied.body)}`);
    peerClock.record(id, write.at);
    counters.applied++;
  };

  const schedule = (source: ReplicaEndpoint, peer: ReplicaEndpoint, write: SeenWrite) => {
    const done = new Promise<void>((resolve) => setTimeout(resolve, lagMs))
      .then(() => replicate(source, peer, write))
      .catch((error: Error) => {
        counters.failed++;
        process.stderr.write(`dynamodb replication: ${error.message}\n`);
      })
      .finally(() => pending.delete(done));
    pending.add(done);
  };

  const proxies: Server[] = [];
  const endpoints: Record<string, string> = {};
  for (const [index, source] of options.replicas.entries()) {
    const peer = options.replicas[1 - index] as ReplicaEndpoint;
    const clock = clocks.get(source.region) as WriteClock;
    const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const at = WRITES.has(operation) ? now() : 0;
      try {
        const answer = await forward(source.endpoint, request, body);
        if (answer.status === 200 && WRITES.has(operation)) {
          for (const write of writtenKeys(
            operation,
            JSON.parse(body.toString('utf8')),
            JSON.parse(answer.body.toString('utf8')),
          )) {
            const seen = { table: write.table, key: keyOf(write.table, write.key), at };
            clock.record(idOf(seen.table, seen.key), at);
            schedule(source, peer, seen);
          }
        }
        response.writeHead(answer.status, answer.headers);
        response.end(answer.body);
      } catch (error) {
        response.writeHead(500, { 'Content-Type': 'application/x-amz-json-1.0' });
        response.end(JSON.stringify({ __type: 'InternalServerError', message: (error as Error).message }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxies.push(server);
    endpoints[source.region] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  return {
    endpoints,
    settled: async () => {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    stats: () => ({ ...counters }),
    setLag: (ms) => {
      lagMs = ms;
    },
    close: async () => {
      await Promise.all(
        proxies.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}

/** The items a successful write changed (BatchWriteItem: less those it left unprocessed). */
function writtenKeys(
  operation: string,
  input: Record<string, unknown>,
  output: Record<string, unknown>,
): Array<{ table: string; key: Item }> {
  if (operation === 'PutItem') return [{ table: input.TableName as string, key: input.Item as Item }];
  if (operation === 'UpdateItem' || operation === 'DeleteItem')
    return [{ table: input.TableName as string, key: input.Key as Item }];
  const written: Array<{ table: string; key: Item }> = [];
  const unprocessed = (output.UnprocessedItems ?? {}) as Record<string, unknown[]>;
  for (const [table, requests] of Object.entries(input.RequestItems as Record<string, unknown[]>)) {
    const left = new Set((unprocessed[table] ?? []).map((r) => JSON.stringify(r)));
    for (const request of requests as Array<{ PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }>) {
      if (left.has(JSON.stringify(request))) continue;
      const key = request.PutRequest?.Item ?? request.DeleteRequest?.Key;
      if (key) written.push({ table, key });
    }
  }
  return written;
}

/** Passes a request on to dynalite as it came (headers and body), and reads the whole answer. */
function forward(
  endpoint: string,
  request: IncomingMessage,
  body: Buffer,
): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }> {
  const target = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, host: target.host, 'content-length': String(body.length) },
      },
      async (answer) => {
        const chunks: Buffer[] = [];
        for await (const chunk of answer) chunks.push(chunk as Buffer);
        const headers = Object.fromEntries(
          Object.entries(answer.headers).filter(
            (entry): entry is [string, string | string[]] => entry[1] !== undefined && entry[0] !== 'transfer-encoding',
          ),
        );
        const data = Buffer.concat(chunks);
        resolve({ status: answer.statusCode ?? 500, headers: { ...headers, 'content-length': String(data.length) }, body: data });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** One DynamoDB JSON call, unsigned (dynalite checks no signature), straight to a replica. */
async function call(endpoint: string, operation: string, input: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `DynamoDB_20120810.${operation}`,
      'X-Amz-Date': '20200101T000000Z',
      Authorization:
        'AWS4-HMAC-SHA256 Credential=S3RVER/20200101/us-gov-west-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify(input),
  });
  return { status: response.status, body: await response.json() };
}
