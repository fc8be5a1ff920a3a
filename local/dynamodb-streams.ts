/**
 * DynamoDB Streams, locally: dynalite has none, so this watches the writes a dynalite serves (its
 * HTTP server's requests, as local/dynamodb.ts counts them) and makes stream records of them for
 * the tables some function reads the stream of (local/stream-sources.ts feeds those records to the
 * function's handler, as Lambda's event source mapping does).
 *
 * After a successful PutItem, UpdateItem, DeleteItem or BatchWriteItem on such a table it reads the
 * item (GetItem, consistent) and emits NEW_AND_OLD_IMAGES: the new image as read, the old image as
 * the last record of that item carried. Records of one item are made one after the other, so each
 * is the one before's successor; two writes close together may come as one record (the later image),
 * which a consumer comparing images (the job events' transitions) reads as both changes. Not
 * modelled: shards, the 24-hour retention (records are handed over at once), TTL deletions. The
 * stream starts empty with the process: an item first written after a restart comes as INSERT.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

type AttributeValue = Record<string, unknown>;
type Item = Record<string, AttributeValue>;

/** A stream record as Lambda hands it to a function (the fields the engine reads, and a few more). */
export interface LocalStreamRecord {
  eventID: string;
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  eventVersion: '1.1';
  eventSource: 'aws:dynamodb';
  awsRegion: string;
  dynamodb: {
    ApproximateCreationDateTime: number;
    Keys: Item;
    NewImage?: Item;
    OldImage?: Item;
    SequenceNumber: string;
    SizeBytes: number;
    StreamViewType: 'NEW_AND_OLD_IMAGES';
  };
  eventSourceARN: string;
}

export interface StreamOptions {
  /** The streamed tables' key attribute names, by table name. */
  tables: Record<string, string[]>;
  /** The region named in the records (the replica's). */
  region: string;
  /** Each record, in order per item. */
  onRecord(table: string, record: LocalStreamRecord): void;
}

/** Marks the stand-in's own reads of the items written, which are not counted as requests. */
export const STREAM_READ_HEADER = 'x-eft-local-stream-read';

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

/** Watches `server` (a dynalite at `endpoint`) and emits stream records of the tables in `options`. */
export function watchWrites(server: Server, endpoint: string, options: StreamOptions): void {
  const images = new Map<string, Item | undefined>();
  const chains = new Map<string, Promise<void>>();
  let sequence = 0;

  const emit = async (table: string, key: Item) => {
    const id = `${table}\u0000${JSON.stringify(key)}`;
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.GetItem',
        authorization: `AWS4-HMAC-SHA256 Credential=local/20200101/${options.region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
        'x-amz-date': '20200101T000000Z',
        // Not a request of the engine's (DynamoDB Streams carry the images): local/dynamodb.ts does not count it.
        [STREAM_READ_HEADER]: '1',
      },
      body: JSON.stringify({ TableName: table, Key: key, ConsistentRead: true }),
    });
    const image = ((await response.json()) as { Item?: Item }).Item;
    const old = images.get(id);
    if (!image && !old) return;
    if (image) images.set(id, image);
    else images.delete(id);
    sequence++;
    const now = Date.now();
    options.onRecord(table, {
      eventID: `${now.toString(16)}${sequence.toString(16).padStart(8, '0')}`,
      eventName: !image ? 'REMOVE' : old ? 'MODIFY' : 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: options.region,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(now / 1000),
        Keys: key,
        ...(image ? { NewImage: image } : {}),
        ...(old ? { OldImage: old } : {}),
        SequenceNumber: String(sequence).padStart(21, '0'),
        SizeBytes: JSON.stringify(image ?? old ?? {}).length,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
      eventSourceARN: `arn:aws-us-gov:dynamodb:${options.region}:000000000000:table/${table}/stream/local`,
    });
  };

  const written = (table: string, key: Item) => {
    const id = `${table}\u0000${JSON.stringify(key)}`;
    const next = (chains.get(id) ?? Promise.resolve())
      .then(() => emit(table, key))
      .catch((error) => {
        process.stderr.write(`local stream of ${table}: a record was lost: ${(error as Error).message}\n`);
      });
    chains.set(id, next);
    void next.finally(() => {
      if (chains.get(id) === next) chains.delete(id);
    });
  };

  server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    if (!WRITES.has(operation)) return;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('finish', () => {
      if (response.statusCode !== 200) return;
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return;
      }
      for (const [table, key] of keysWritten(operation, body, options.tables)) written(table, key);
    });
  });
}

/** The (table, key) pairs a successful write request wrote, for the streamed tables. */
function keysWritten(operation: string, body: Record<string, unknown>, tables: Record<string, string[]>): Array<[string, Item]> {
  const keyOf = (table: string, item: Item): Item =>
    Object.fromEntries((tables[table] ?? []).map((name) => [name, item[name] as AttributeValue]));
  if (operation === 'BatchWriteItem') {
    const out: Array<[string, Item]> = [];
    for (const [table, requests] of Object.entries((body.RequestItems ?? {}) as Record<string, unknown[]>)) {
      if (!tables[table]) continue;
      for (const request of requests as Array<{ PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }>) {
        const item = request.PutRequest?.Item ?? request.DeleteRequest?.Key;
        if (item) out.push([table, keyOf(table, item)]);
      }
    }
    return out;
  }
  const table = String(body.TableName ?? '');
  if (!tables[table]) return [];
  const item = (operation === 'PutItem' ? body.Item : body.Key) as Item | undefined;
  return item ? [[table, keyOf(table, item)]] : [];
}
