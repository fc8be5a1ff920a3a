import {
  ConflictError,
  EftError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  ValidationError,
} from '../../domain/errors';
import { PartnerBusyError } from '../../domain/session-slots';
import type { Logger } from '../../observability/logger';
import type { ApiErrorBody } from './error-body';
import { MalformedJsonError, UnsupportedMediaTypeError } from './json-body';

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** The one place where errors become HTTP statuses. */
function statusOf(error: EftError): number {
  if (error instanceof ValidationError || error instanceof MalformedJsonError) return 400;
  if (error instanceof UnauthorizedError) return 401;
  if (error instanceof ForbiddenError) return 403;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  if (error instanceof PayloadTooLargeError) return 413;
  if (error instanceof UnsupportedMediaTypeError) return 415;
  if (error instanceof PartnerBusyError) return 503;
  return 500;
}

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * Maps an error to a response. 4xx bodies say what was wrong (and, for bad
 * input, which fields); a 5xx body says nothing about internals, only the
 * request id to quote to an operator.
 */
export function errorResponse(error: unknown, requestId: string, log: Logger): HttpResponse {
  if (error instanceof PartnerBusyError) {
    // The partner's sessions are all in use: the one 5xx that says why, and when to come back.
    return jsonResponse(statusOf(error), { error: { code: error.code, message: error.message } } satisfies ApiErrorBody, {
      'Retry-After': String(error.retryAfterSeconds),
    });
  }
  if (error instanceof EftError) {
    const status = statusOf(error);
    if (status < 500) {
      return jsonResponse(status, {
        error: {
          code: error.code,
          message: error.message,
          ...(error instanceof ValidationError || error instanceof MalformedJsonError ? { fields: error.issues } : {}),
        },
      } satisfies ApiErrorBody);
    }
  }
  // Errors raised by Middy's own middleware carry an HTTP status.
  const http = error as { statusCode?: number; message?: string };
  if (typeof http.statusCode === 'number' && http.statusCode >= 400 && http.statusCode < 500) {
    return jsonResponse(http.statusCode, {
      error: { code: 'BAD_REQUEST', message: http.message ?? 'bad request' },
    } satisfies ApiErrorBody);
  }
  log.error('request failed', { requestId, error });
  return jsonResponse(500, { error: { code: 'INTERNAL', message: 'internal error', requestId } } satisfies ApiErrorBody);
}
