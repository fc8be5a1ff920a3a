import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';

export interface LocalDynamo {
  endpoint: string;
  /**
   * Requests served so far by operation and table, e.g. "UpdateItem jobs" (the
   * table's name after its stage prefix): what the bench reports per job.
   */
  requestCounts(): Record<string, number>;
  close(): Promise<void>;
}

/**
 * dynalite in-process on loopback: a DynamoDB HTTP API with conditional writes and
 * GSIs, no JVM, starts in milliseconds. It has no transactions and no streams,
 * which the engine does not use.
 */
export async function startDynamo(port = 0, host = '127.0.0.1'): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const counts: Record<string, number> = {};
  server.prependListener('request', (request: IncomingMessage) => countRequest(request, counts));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    endpoint: `http://${host}:${address.port}`,
    requestCounts: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** The operation from the target header, the table from the start of the body (requests are small JSON). */
function countRequest(request: IncomingMessage, counts: Record<string, number>): void {
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
