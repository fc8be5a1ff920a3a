import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookRequest {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/**
 * A customer's webhook endpoint on loopback, for the walkthrough: plain http:// (the local runtime
 * allows it, EFT_WEBHOOK_ALLOW_HTTP). Each delivery's first attempt is answered 503, the next 200, so
 * the delivery log shows a retry. `deliveredFor(jobId)` resolves with a job's attempts once one got 200.
 */
export async function startWebhookReceiver() {
  const received: WebhookRequest[] = [];
  const seen = new Set<string>();
  const waiters: Array<() => void> = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const delivery = String(request.headers['eft-delivery']);
      const status = seen.has(delivery) ? 200 : 503;
      seen.add(delivery);
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      response.statusCode = status;
      response.end();
      for (const wake of waiters.splice(0)) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const ofJob = (jobId: string) => received.filter((r) => JSON.parse(r.body).detail?.jobId === jobId);
  return {
    url: `http://127.0.0.1:${port}/eft-events`,
    async deliveredFor(jobId: string, timeoutMs = 60_000): Promise<WebhookRequest[]> {
      const deadline = Date.now() + timeoutMs;
      while (!ofJob(jobId).some((r) => r.status === 200)) {
        if (Date.now() > deadline) throw new Error(`no webhook delivery for job ${jobId} in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, deadline - Date.now()).unref();
        });
      }
      return ofJob(jobId);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
