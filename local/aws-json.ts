import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** AWS services' JSON protocols refuse larger requests long before this; it only bounds memory. */
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;

/**
 * An error as an AWS JSON protocol answers it: `__type` (the shape name, with
 * the service's namespace), `message`, and for services that moved from the
 * query protocol (SQS) the old error code in `x-amzn-query-error`, which the
 * SDK reports as the error's Code.
 */
export class AwsJsonError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly options: { status?: number; queryCode?: string; sender?: boolean } = {},
  ) {
    super(message);
    this.name = type;
  }
}

export type AwsJsonOperation = (input: Record<string, unknown>, request: IncomingMessage) => unknown | Promise<unknown>;

export interface AwsJsonServer {
  url: string;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new AwsJsonError('RequestEntityTooLarge', 'The request is too large', { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A local endpoint of an AWS service speaking its JSON protocol: POST with
 * `x-amz-target: <targetPrefix>.<Operation>` and a JSON body, answered with
 * `contentType`. Signatures are not checked (as dynalite and s3rver do not):
 * these endpoints listen on loopback only.
 */
export async function startAwsJsonServer(options: {
  /** e.g. `AmazonSQS`, `AWSEvents` */
  targetPrefix: string;
  /** `application/x-amz-json-1.0` or `-1.1` */
  contentType: string;
  /** The namespace of error shapes in `__type`, e.g. `com.amazonaws.sqs#`; empty for none. */
  errorNamespace: string;
  operations: Record<string, AwsJsonOperation>;
  port?: number;
  host?: string;
}): Promise<AwsJsonServer> {
  const server = createServer(async (request, response) => {
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (response.destroyed) return;
      response.writeHead(status, { 'Content-Type': options.contentType, ...headers });
      response.end(JSON.stringify(body));
    };
    try {
      const target = String(request.headers['x-amz-target'] ?? '');
      const [prefix, name = ''] = target.split('.');
      const operation = prefix === options.targetPrefix ? options.operations[name] : undefined;
      if (request.method !== 'POST' || !operation || !Object.hasOwn(options.operations, name)) {
        throw new AwsJsonError(
          'UnknownOperationException',
          `${target || 'this request'} is not served by the local ${options.targetPrefix}`,
        );
      }
      const text = await readBody(request);
      let input: unknown;
      try {
        input = text ? JSON.parse(text) : {};
      } catch {
        throw new AwsJsonError('SerializationException', 'The request body is not JSON');
      }
      if (!input || typeof input !== 'object' || Array.isArray(input)) {
        throw new AwsJsonError('SerializationException', 'The request body is not a JSON object');
      }
      answer(200, (await operation(input as Record<string, unknown>, request)) ?? {});
    } catch (error) {
      if (error instanceof AwsJsonError) {
        const { status = 400, queryCode, sender = true } = error.options;
        answer(
          status,
          { __type: `${options.errorNamespace}${error.type}`, message: error.message },
          queryCode ? { 'x-amzn-query-error': `${queryCode};${sender ? 'Sender' : 'Receiver'}` } : {},
        );
      } else {
        process.stderr.write(`local ${options.targetPrefix}: ${(error as Error).stack}\n`);
        answer(500, { __type: `${options.errorNamespace}InternalError`, message: (error as Error).message });
      }
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
