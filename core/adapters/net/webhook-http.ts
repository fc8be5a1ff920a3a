import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { SendOutcome, WebhookSender } from '../../domain/notifications';
import { type HostResolver, type NetworkPolicy, systemResolver, vetHost } from './network-policy';

export interface WebhookHttpOptions {
  networkPolicy: NetworkPolicy;
  /** Plain http:// too (the local runtime's receiver only; EFT_WEBHOOK_ALLOW_HTTP). */
  allowHttp: boolean;
  timeoutMs?: number;
  resolve?: HostResolver;
}

/** What a receiver's answer may add to the log: its status only; the body is read and dropped. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs deliveries with the SSRF guard of the SFTP connections: the URL's host is resolved and
 * refused if any address is forbidden (vetHost), then the request goes to the vetted address (with
 * the name kept for TLS and Host), so DNS cannot answer differently in between. No redirects are
 * followed (a 3xx is the receiver's answer, not a delivery).
 */
export class HttpWebhookSender implements WebhookSender {
  constructor(private readonly options: WebhookHttpOptions) {}

  async post(url: string, body: string, headers: Record<string, string>): Promise<SendOutcome> {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    if (!secure && !(this.options.allowHttp && target.protocol === 'http:')) return { error: 'the URL is not https://' };
    let address: string;
    try {
      address = await vetHost(target.hostname, this.options.networkPolicy, this.options.resolve ?? systemResolver);
    } catch (error) {
      return { error: (error as Error).message };
    }
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    return new Promise<SendOutcome>((resolve) => {
      const send = secure ? httpsRequest : httpRequest;
      const req = send(
        {
          host: address,
          port: target.port || (secure ? 443 : 80),
          path: `${target.pathname}${target.search}`,
          method: 'POST',
          headers: { ...headers, host: target.host, 'content-length': String(Buffer.byteLength(body)) },
          ...(secure && !isIP(target.hostname) ? { servername: target.hostname } : {}),
          timeout: timeoutMs,
        },
        (res) => {
          let seen = 0;
          res.on('data', (chunk: Buffer) => {
            seen += chunk.length;
            if (seen > MAX_RESPONSE_BYTES) res.destroy();
          });
          res.on('close', () => resolve({ status: res.statusCode ?? 0 }));
          res.on('error', () => resolve({ status: res.statusCode ?? 0 }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (error) => resolve({ error: error.message }));
      req.end(body);
    });
  }
}
