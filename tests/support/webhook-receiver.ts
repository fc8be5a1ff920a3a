import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A customer's webhook endpoint on loopback (plain HTTP: the local runtime allows it, see
 * EFT_WEBHOOK_ALLOW_HTTP). Each delivery (eft-delivery header) to a path gets the statuses the path
 * is told, one per attempt, then 200; `requests` resolves once the path has had the requests asked
 * for, so a test waits for what it observes.
 */
export async function startWebhookReceiver() {
  const received: ReceivedRequest[] = [];
  const scripts = new Map<string, number[]>();
  const attempts = new Map<string, number>();
  const waiters: Array<{ path: string; count: number; match: (r: ReceivedRequest) => boolean; resolve: () => void }> = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      received.push({ path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      const delivery = `${path} ${request.headers['eft-delivery']}`;
      const attempt = attempts.get(delivery) ?? 0;
      attempts.set(delivery, attempt + 1);
      response.statusCode = scripts.get(path)?.[attempt] ?? 200;
      response.end('ok');
      for (const waiter of [...waiters]) {
        if (received.filter((r) => r.path === waiter.path && waiter.match(r)).length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    /** Each delivery to the path is answered these statuses first (e.g. [500, 503]), then 200. */
    answer(path: string, statuses: number[]) {
      scripts.set(path, [...statuses]);
    },
    /** The path's first `count` requests (those `match` keeps), once they have come (or fails after timeoutMs). */
    async requests(
      path: string,
      count: number,
      match: (request: ReceivedRequest) => boolean = () => true,
      timeoutMs = 60_000,
    ): Promise<ReceivedRequest[]> {
      const have = () => received.filter((r) => r.path === path && match(r));
      if (have().length < count) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`${have().length} of ${count} requests came to ${path} in ${timeoutMs} ms`)),
            timeoutMs,
          );
          waiters.push({
            path,
            count,
            match,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          });
        });
      }
      return have().slice(0, count);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
