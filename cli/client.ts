import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ApiErrorBody, Page } from '../core/api/types';
import type { Target } from './config';
import { CliError, EXIT } from './errors';
import { hintFor } from './hints';

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
}

const REQUEST_TIMEOUT_MS = 60_000;

/** The API's answer to a refused request, as a CliError whose message says what to do. */
function refusal(status: number, body: unknown, target: Target): CliError {
  const error = (body as Partial<ApiErrorBody> | undefined)?.error;
  // API Gateway (and the local stand-in) refuse a bad signature before the API sees it: { message }.
  const gatewayMessage = (body as { message?: string } | undefined)?.message;
  if (status === 401 || status === 403) {
    if (error?.code === 'FORBIDDEN')
      return new CliError(`${error.message}: ${hintFor('FORBIDDEN')}`, EXIT.UNREACHABLE, 'FORBIDDEN');
    return new CliError(
      `${target.description} did not accept the credentials (HTTP ${status}: ${gatewayMessage ?? error?.message ?? 'refused'}): ` +
        'check --profile / AWS_PROFILE, sign in again (e.g. aws sso login), and --region',
      EXIT.UNREACHABLE,
      'UNAUTHENTICATED',
    );
  }
  if (!error) {
    const text = gatewayMessage ?? `HTTP ${status}`;
    return new CliError(text, status >= 500 ? EXIT.UNREACHABLE : EXIT.REFUSED, status === 404 ? 'NOT_FOUND' : undefined);
  }
  const fields = error.fields?.length ? `\n${error.fields.map((f) => `  ${f.field}: ${f.message}`).join('\n')}` : '';
  const hint = hintFor(error.code, error.message);
  const quote = error.requestId ? ` (request id ${error.requestId}: quote it to your operator)` : '';
  return new CliError(
    `${error.code}: ${error.message}${quote}${fields}${hint ? `\n${hint}` : ''}`,
    status >= 500 ? EXIT.UNREACHABLE : EXIT.REFUSED,
    error.code,
  );
}

/** A customer's client: every request signed with SigV4 (service execute-api), as the AWS SDKs sign. */
export class ApiClient {
  private readonly signer: SignatureV4;
  private readonly base: URL;

  constructor(private readonly target: Target) {
    this.base = new URL(target.url);
    this.signer = new SignatureV4({
      credentials: target.credentials,
      region: target.region,
      service: 'execute-api',
      sha256: Sha256,
      uriEscapePath: true,
    });
  }

  /** The parsed JSON answer of a 2xx; anything else throws a CliError with its exit code. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; body: T }> {
    // The base URL may carry the stage (…/prod): paths go under it.
    const url = new URL(this.base.href);
    url.pathname = `${this.base.pathname.replace(/\/+$/, '')}${path}`;
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    let signed: Awaited<ReturnType<SignatureV4['sign']>>;
    try {
      signed = await this.signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: {
          host: url.host,
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        },
        ...(payload !== undefined ? { body: payload } : {}),
      });
    } catch (error) {
      throw new CliError(
        `no AWS credentials for ${this.target.description}: ${(error as Error).message} ` +
          '(set --profile or AWS_PROFILE, sign in with aws sso login, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)',
        EXIT.UNREACHABLE,
        'NO_CREDENTIALS',
      );
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: signed.headers,
        ...(payload !== undefined ? { body: payload } : {}),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach ${url.origin} (${cause?.code ?? cause?.message ?? (error as Error).message}): check --endpoint-url and your network` +
          (this.target.description.startsWith('the local engine') ? ', or start the local engine: npm start' : ''),
        EXIT.UNREACHABLE,
        'UNREACHABLE',
      );
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = { message: text.slice(0, 200) };
    }
    if (!response.ok) throw refusal(response.status, body, this.target);
    return { status: response.status, body: body as T };
  }

  get = async <T>(path: string, query?: RequestOptions['query']) => (await this.request<T>('GET', path, { query })).body;
  post = async <T>(path: string, body?: unknown, headers?: Record<string, string>) =>
    (await this.request<T>('POST', path, { body, headers })).body;
  patch = async <T>(path: string, body: unknown) => (await this.request<T>('PATCH', path, { body })).body;
  delete = async <T>(path: string) => (await this.request<T>('DELETE', path)).body;

  /** Every page of a list, following nextCursor. */
  async all<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.get<Page<T>>(path, { ...query, limit: 100, cursor });
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return items;
  }
}
