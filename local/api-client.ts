import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';

export interface ApiResponse {
  status: number;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
  body: any;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * A customer's client: every request signed with AWS SigV4 (service
 * execute-api), as any AWS SDK or `curl --aws-sigv4` would sign it.
 */
export class ApiClient {
  private readonly signer: SignatureV4;

  constructor(
    private readonly baseUrl: string,
    region: string,
    credentials: Credentials,
  ) {
    this.signer = new SignatureV4({ credentials, region, service: 'execute-api', sha256: Sha256, uriEscapePath: true });
  }

  /** `body` is sent as JSON unless it is already a string (for malformed-input tests). */
  async request(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<ApiResponse> {
    const url = new URL(path, this.baseUrl);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const signed = await this.signer.sign({
      method,
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: {
        host: url.host,
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
        ...extraHeaders,
      },
      body: payload,
    });
    const response = await fetch(url, { method, headers: signed.headers, body: payload });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, text, body: parsed };
  }

  get = (path: string) => this.request('GET', path);
  post = (path: string, body?: unknown) => this.request('POST', path, body);
  patch = (path: string, body?: unknown) => this.request('PATCH', path, body);
  delete = (path: string) => this.request('DELETE', path);
}
