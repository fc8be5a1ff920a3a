import { mkdir } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import dynalite from 'dynalite';
import { Level } from 'level';
import { STREAM_READ_HEADER, type StreamOptions, watchWrites } from './dynamodb-streams';

export interface LocalDynamo {
  endpoint: string;
  /**
   * Requests served so far by operation and table, e.g. "UpdateItem jobs" (the
   * table's name after its stage prefix): what the bench reports per job. The streams stand-in's own
   * reads of written items are not counted (in AWS, DynamoDB Streams carry the images).
   */
  requestCounts(): Record<string, number>;
  close(): Promise<void>;
}

export interface DynamoOptions {
  port?: number;
  host?: string;
  /**
   * Keep the tables here (LevelDB), so they outlive the process as DynamoDB's do; absent, they live in
   * memory. One engine at a time: another start on the same directory fails until the first is closed.
   */
  directory?: string;
  /** Streams of some tables (dynamodb-streams.ts): dynalite has none of its own. */
  streams?: StreamOptions;
}

/**
 * dynalite in-process on loopback: a DynamoDB HTTP API with conditional writes and
 * GSIs, no JVM, starts in milliseconds. It has no transactions (which the engine
 * does not use) and no streams (dynamodb-streams.ts stands in for them).
 */
export async function startDynamo(options: DynamoOptions = {}): Promise<LocalDynamo> {
  const { port = 0, host = '127.0.0.1', directory } = options;
  const owner = directory ? await claimDirectory(directory) : undefined;
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(directory ? { path: join(directory, 'tables') } : {}),
  });
  const counts: Record<string, number> = {};
  server.prependListener('request', (request: IncomingMessage) => countRequest(request, counts));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (error) {
    await owner?.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const endpoint = `http://${host}:${address.port}`;
  if (options.streams) watchWrites(server, endpoint, options.streams);
  return {
    endpoint,
    requestCounts: () => ({ ...counts }),
    close: async () => {
      // dynalite closes its LevelDB (and its lock) once the server has stopped; then the claim goes.
      try {
        await closeServer(server);
      } finally {
        await owner?.close();
      }
    },
  };
}

/**
 * Takes the directory for this process: LevelDB's lock on a database of its own (`owner`), held until
 * close. dynalite opens its database only when the first request comes, and a database another engine
 * holds then fails every request by throwing (ending the process); claiming `owner` first fails at start,
 * with a message, instead. The operating system drops the lock when the process dies, so a killed engine
 * never leaves the directory locked.
 */
async function claimDirectory(directory: string): Promise<Level> {
  await mkdir(directory, { recursive: true });
  const owner = new Level(join(directory, 'owner'));
  try {
    await owner.open();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    if (cause?.code !== 'LEVEL_LOCKED') throw error;
    throw new Error(
      `the local DynamoDB data in ${directory} is in use by another eft engine (stop it first, or give this one another state directory)`,
      { cause: error },
    );
  }
  return owner;
}

function closeServer(server: ReturnType<typeof dynalite>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.closeAllConnections?.();
    server.close((error?: Error) => (error ? reject(error) : resolve()));
  });
}

/** The operation from the target header, the table from the start of the body (requests are small JSON). */
function countRequest(request: IncomingMessage, counts: Record<string, number>): void {
  if (request.headers[STREAM_READ_HEADER]) return;
  const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
  let head = '';
  request.on('data', (chunk: Buffer) => {
    if (head.length < 2048) head += chunk.toString('latin1', 0, Math.min(chunk.length, 2048));
  });
  request.on('end', () => {
    const table = /"TableName":"([^"]+)"/.exec(head)?.[1] ?? /"RequestItems":\{"([^"]+)"/.exec(head)?.[1] ?? '';
    const key = `${operation} ${table.split('-').at(-1)}`.trim();
    counts[key] = (counts[key] ?? 0) + 1;
  });
}
