import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { loadHandler } from './handlers';
import type { ServiceConfig } from './service-config';
import { type LocalPrincipal, SignatureError, verifySigV4 } from './sigv4';

/** API Gateway refuses larger payloads (10 MB); handlers enforce their own, smaller limit. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

type LambdaHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

interface Route {
  functionName: string;
  method: string;
  resource: string;
  pattern: RegExp;
  parameterNames: string[];
  handlerPath: string;
}

/** The REST routes exactly as serverless.yml declares them (`http` events). */
export function routesOf(config: ServiceConfig): Route[] {
  const routes: Route[] = [];
  for (const [functionName, fn] of Object.entries(config.functions)) {
    for (const event of fn.events ?? []) {
      const http = event.http as { path: string; method: string } | undefined;
      if (!http) continue;
      const resource = `/${http.path.replace(/^\//, '')}`;
      const parameterNames: string[] = [];
      const pattern = new RegExp(
        `^${resource.replace(/\{(\w+)\}/g, (_m, name: string) => {
          parameterNames.push(name);
          return '([^/]+)';
        })}$`,
      );
      routes.push({
        functionName,
        method: http.method.toUpperCase(),
        resource,
        pattern,
        parameterNames,
        handlerPath: fn.handler,
      });
    }
  }
  return routes;
}

/** A request API Gateway answers itself with 400, before authorization or any integration runs. */
class BadRequestError extends Error {}

/**
 * RFC 3986 percent-decoding as UTF-8. Malformed input (a `%` without two hex
 * digits after it, or escapes whose bytes are not UTF-8) is the client's error,
 * never a server error: decodeURIComponent's URIError becomes a 400.
 */
function percentDecode(text: string, where: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BadRequestError(`Malformed percent-encoding in the ${where}`);
  }
}

/**
 * The request target as received: the path, undecoded (what the client signed
 * and what routes match), and the query parameters, decoded as
 * application/x-www-form-urlencoded (URLSearchParams' reading, which SDKs sign)
 * but strictly: a malformed escape is refused, not kept as text or replaced by U+FFFD.
 */
export function parseRequestTarget(target: string): { path: string; query: Record<string, string[]> } {
  // Origin-form only (`/path?query`): `//x` is a path here, not a host, and absolute-form is refused.
  if (!target.startsWith('/')) throw new BadRequestError('The request target must be a path');
  const queryAt = target.indexOf('?');
  const path = queryAt < 0 ? target : target.slice(0, queryAt);
  percentDecode(path, 'request path');
  const query = new Map<string, string[]>();
  for (const pair of queryAt < 0 ? [] : target.slice(queryAt + 1).split('&')) {
    if (!pair) continue;
    const equalsAt = pair.indexOf('=');
    const [rawKey, rawValue] = equalsAt < 0 ? [pair, ''] : [pair.slice(0, equalsAt), pair.slice(equalsAt + 1)];
    const key = percentDecode(rawKey.replaceAll('+', ' '), 'query string');
    const value = percentDecode(rawValue.replaceAll('+', ' '), 'query string');
    query.set(key, [...(query.get(key) ?? []), value]);
  }
  // fromEntries defines own properties, so keys such as `__proto__` stay parameters.
  return { path, query: Object.fromEntries(query) };
}

function matchRoute(routes: Route[], method: string, path: string) {
  for (const route of routes) {
    const match = route.method === method ? route.pattern.exec(path) : null;
    if (match) {
      const parameters = Object.fromEntries(
        route.parameterNames.map((name, i) => [name, percentDecode(match[i + 1] ?? '', 'request path')]),
      );
      return { route, parameters };
    }
  }
  return undefined;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD_BYTES) throw new SignatureError(403, 'Request payload too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(response: ServerResponse, statusCode: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(statusCode, { 'Content-Type': 'application/json', ...headers });
  response.end(body);
}

/**
 * A local stand-in for API Gateway (REST, AWS_IAM authorization): verifies
 * SigV4 against the demo customers' keys, routes by the http events of the
 * resolved serverless config, and invokes the same handler modules with a REST
 * proxy event whose identity carries the caller's principal.
 */
export async function startApiGateway(options: {
  config: ServiceConfig;
  region: string;
  principals: LocalPrincipal[];
  root: string;
  port?: number;
  host?: string;
}): Promise<{ url: string; close(): Promise<void> }> {
  const routes = routesOf(options.config);
  const handlers = new Map<string, LambdaHandler>();
  const stage = options.config.provider.stage;

  const server = createServer(async (request, response) => {
    const requestId = randomUUID();
    try {
      // A malformed request target is refused first, as a front end refuses it, signed or not.
      const { path, query } = parseRequestTarget(request.url ?? '/');
      const body = await readBody(request);
      const principal = await verifySigV4(
        { method: request.method ?? 'GET', path, query, headers: request.headers, body },
        options.region,
        options.principals,
      );
      const method = request.method ?? 'GET';
      const matched = matchRoute(routes, method, path);
      if (!matched) return send(response, 404, JSON.stringify({ message: `no route for ${method} ${path}` }));
      const { route, parameters } = matched;
      let handler = handlers.get(route.handlerPath);
      if (!handler) {
        handler = loadHandler<LambdaHandler>(route.handlerPath, options.root);
        handlers.set(route.handlerPath, handler);
      }
      const singleHeaders = Object.fromEntries(
        Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]),
      );
      const event = {
        resource: route.resource,
        path,
        httpMethod: method,
        headers: singleHeaders,
        multiValueHeaders: Object.fromEntries(Object.entries(singleHeaders).map(([k, v]) => [k, [v]])),
        queryStringParameters: Object.keys(query).length
          ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, v[v.length - 1] ?? '']))
          : null,
        multiValueQueryStringParameters: Object.keys(query).length ? query : null,
        pathParameters: route.parameterNames.length ? parameters : null,
        stageVariables: null,
        body: body.length ? body.toString('utf8') : null,
        isBase64Encoded: false,
        requestContext: {
          requestId,
          stage,
          httpMethod: method,
          path: `/${stage}${path}`,
          resourcePath: route.resource,
          identity: { userArn: principal.principalArn, accessKey: principal.accessKeyId, caller: principal.principalArn },
        },
      } as unknown as APIGatewayProxyEvent;
      const context = {
        awsRequestId: requestId,
        functionName: route.functionName,
        getRemainingTimeInMillis: () => 10_000,
      } as unknown as Context;
      const result = await handler(event, context);
      send(response, result.statusCode, result.body, (result.headers ?? {}) as Record<string, string>);
    } catch (error) {
      if (error instanceof SignatureError) return send(response, error.statusCode, JSON.stringify({ message: error.message }));
      if (error instanceof BadRequestError) return send(response, 400, JSON.stringify({ message: error.message }));
      process.stderr.write(`local API gateway: ${(error as Error).name}: ${(error as Error).message}\n`);
      send(response, 502, JSON.stringify({ message: 'Internal server error' }));
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
