import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { z } from 'zod';
import { PayloadTooLargeError, ValidationError } from '../../domain/errors';
import type { PrincipalDirectory } from '../../domain/ports';
import { appendCorrelationKeys, withInvocationLogger } from '../../observability/invocation';
import { logger } from '../../observability/logger';
import { errorResponse, type HttpResponse, jsonResponse } from './error-response';
import { type Caller, resolveCaller } from './identity';
import { fromBodyParser, refuseForbiddenKeys } from './json-body';

/** Request bodies are small JSON documents; anything larger is refused before parsing. */
export const MAX_BODY_BYTES = 16 * 1024;

export interface ApiRequest<Body, Query, Path> {
  body: Body;
  query: Query;
  path: Path;
  caller: Caller;
  requestId: string;
  headers: Record<string, string | undefined>;
}

export interface ApiReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

interface ApiSpec<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType> {
  principals: PrincipalDirectory;
  body?: B;
  query?: Q;
  path?: P;
}

/** Turns a failed schema parse into a 400 that names every bad field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, prefix: string): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.flatMap((issue) => {
      const at = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => ({ field: [at, key].filter(Boolean).join('.'), message: 'is not a known field' }));
      }
      return [{ field: at || prefix || 'body', message: issue.message }];
    }),
  );
}

function enforceBodyLimit(event: APIGatewayProxyEvent): void {
  if (event.body && Buffer.byteLength(event.body, event.isBase64Encoded ? 'base64' : 'utf8') > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(`the request body exceeds ${MAX_BODY_BYTES} bytes`);
  }
}

/**
 * The one middleware stack of every REST handler, run with a logger of the
 * invocation's own (withInvocationLogger): every line carries the Lambda request
 * id (requestId, what a 5xx body quotes), API Gateway's (apiRequestId), the ids
 * of the path (jobId, endpointId, …) and, once it is known, the caller's
 * customerId. Then header normalisation, then,
 * in this order, the caller's customer from the authenticated principal, the
 * body size limit, JSON parsing (when the route takes a body), schema
 * validation of body, query and path, and errors mapped to HTTP in one place.
 */
export function httpApi<
  B extends z.ZodType = z.ZodUnknown,
  Q extends z.ZodType = z.ZodUnknown,
  P extends z.ZodType = z.ZodUnknown,
>(spec: ApiSpec<B, Q, P>, handle: (request: ApiRequest<z.output<B>, z.output<Q>, z.output<P>>) => Promise<ApiReply>) {
  const callers = new WeakMap<Context, Caller>();
  const stack = middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>({ timeoutEarlyInMillis: 0 })
    .use(accessLog())
    .use(httpHeaderNormalizer())
    // Who is asking comes first: a principal that is no customer's gets its 403
    // before anything is said about the request (its size, its JSON, its schema).
    .before(async (request) => {
      const caller = await resolveCaller(request.event, spec.principals);
      callers.set(request.context, caller);
      appendCorrelationKeys({ customerId: caller.customerId });
      enforceBodyLimit(request.event);
    });
  if (spec.body) stack.use(httpJsonBodyParser()).before((request) => refuseForbiddenKeys(request.event.body));
  stack.onError((request) => {
    const error = fromBodyParser(request.error, request.event);
    request.response = errorResponse(error, request.context.awsRequestId, logger) as HttpResponse;
  });
  const handler = stack.handler(async (event, context) => {
    const caller = callers.get(context);
    if (!caller) throw new Error('the caller was not resolved before the handler');
    const body = spec.body ? parseOrThrow(spec.body, event.body, '') : undefined;
    const query = spec.query ? parseOrThrow(spec.query, event.queryStringParameters ?? {}, 'query') : undefined;
    const path = spec.path ? parseOrThrow(spec.path, event.pathParameters ?? {}, 'path') : undefined;
    const reply = await handle({
      body: body as z.output<B>,
      query: query as z.output<Q>,
      path: path as z.output<P>,
      caller,
      requestId: context.awsRequestId,
      headers: event.headers ?? {},
    });
    return jsonResponse(reply.status, reply.body, reply.headers);
  });
  return withInvocationLogger<APIGatewayProxyEvent, APIGatewayProxyResult>(
    (event, context) => handler(event, context),
    (event) => ({ apiRequestId: event.requestContext?.requestId, ...pathIds(event) }),
  );
}

/** The ids a route's path names ({jobId}, {routeId}; /endpoints/{id} as endpointId), as correlation keys. */
function pathIds(event: APIGatewayProxyEvent): Record<string, string> {
  const collection = /^\/(\w+?)s?\//.exec(event.resource ?? '')?.[1];
  return Object.fromEntries(
    Object.entries(event.pathParameters ?? {}).flatMap(([name, value]) => {
      if (typeof value !== 'string') return [];
      if (name === 'id' && collection) return [[`${collection}Id`, value]];
      return name.endsWith('Id') ? [[name, value]] : [];
    }),
  );
}

/**
 * One line per request: method, route, status, principal and duration, never
 * the body (which may carry credentials). Registered first, so its `after` and
 * `onError` run last and see the final response.
 */
function accessLog(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context> {
  const started = new WeakMap<object, number>();
  const write = (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>) => {
    const { event, response } = request;
    logger.info('request', {
      method: event.httpMethod,
      route: event.resource,
      status: response?.statusCode,
      principal: event.requestContext?.identity?.userArn,
      durationMs: Date.now() - (started.get(request) ?? Date.now()),
    });
  };
  return {
    before: (request) => {
      started.set(request, Date.now());
    },
    after: write,
    onError: write,
  };
}
