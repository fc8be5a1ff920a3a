/**
 * Typed failures of the transfer worker. Each has a stable `code` that the job
 * records (lastError) and a `retryable` flag: transient trouble (a reset
 * connection, a timeout, S3 throttling or 5xx) is retried inside the worker,
 * resuming where it can; anything else fails the job at once with its reason.
 * Messages name hosts, paths, buckets and keys, never secret material.
 */
import { ConnectivityError } from '../connectivity-errors';
import { EftError, StaleOwnerError } from '../errors';

export class TransferError extends EftError {
  readonly code: string;
  readonly retryable: boolean;
  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message);
    this.code = code;
    this.retryable = options.retryable ?? false;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/** The partition lease moved on (another epoch or region): stop at once and commit nothing. */
export class LeaseLostError extends TransferError {
  constructor(message: string, cause?: unknown) {
    super('LEASE_LOST', message, { cause });
  }
}

/** The task was told to stop (SIGTERM from ECS). */
export class StoppedError extends TransferError {
  constructor(message = 'the worker was stopped (SIGTERM) before the transfer finished') {
    super('STOPPED', message);
  }
}

/** A connection (SFTP channel, TCP socket or HTTP stream) broke mid-transfer. */
export function connectionLost(what: string, cause?: unknown): TransferError {
  return new TransferError('CONNECTION_LOST', `the connection to ${what} was lost`, { retryable: true, cause });
}

/** Socket-level failures that a new connection may well not have. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

/** Connectivity failures worth another attempt; the others (auth, host key, SSRF guard) are the endpoint's configuration. */
const TRANSIENT_CONNECTIVITY_CODES = new Set(['CONNECTION_REFUSED', 'TIMEOUT', 'CONNECTION_FAILED', 'DNS_FAILURE']);

const S3_THROTTLING = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
]);

interface S3ErrorShape {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

export function s3HttpStatus(err: unknown): number | undefined {
  return (err as S3ErrorShape | undefined)?.$metadata?.httpStatusCode;
}

export function s3ErrorName(err: unknown): string {
  return (err as S3ErrorShape | undefined)?.name ?? '';
}

/** True for an error the S3 SDK raised (it carries response metadata). */
function isS3Error(err: unknown): boolean {
  return typeof err === 'object' && err !== null && '$metadata' in err;
}

/**
 * An S3 failure as a TransferError, `what` saying which object or bucket
 * (e.g. "the source object s3://b/k"). 404s become `missingCode`.
 */
export function s3Failure(err: unknown, what: string, missingCode = 'NOT_FOUND'): TransferError {
  if (err instanceof TransferError) return err;
  const name = s3ErrorName(err);
  const status = s3HttpStatus(err);
  if (name === 'NoSuchBucket') return new TransferError('BUCKET_MISSING', `the bucket of ${what} does not exist`, { cause: err });
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    return new TransferError(missingCode, `${what} does not exist`, { cause: err });
  }
  // Reads are made with If-Match on the ETag seen first: 412 means the object was replaced meanwhile.
  if (status === 412) return new TransferError('SOURCE_CHANGED', `${what} changed during the transfer`, { cause: err });
  if (status === 403 || name === 'AccessDenied' || name.startsWith('KMS.')) {
    return new TransferError(
      'S3_ACCESS_DENIED',
      `the engine may not access ${what}: check the bucket policy, KMS key policy and the worker's role`,
      {
        cause: err,
      },
    );
  }
  if ((status !== undefined && status >= 500) || S3_THROTTLING.has(name) || (err as S3ErrorShape).$retryable) {
    return new TransferError('S3_UNAVAILABLE', `S3 did not complete a request on ${what} (${name || status})`, {
      retryable: true,
      cause: err,
    });
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && TRANSIENT_NETWORK_CODES.has(code)) return connectionLost(`S3 (${what})`, err);
  return new TransferError(
    'S3_FAILURE',
    `S3 refused a request on ${what}: ${name || 'error'}${status ? ` (HTTP ${status})` : ''}`,
    {
      cause: err,
    },
  );
}

/**
 * Any error as a TransferError. Call sites that know what failed classify
 * first (SFTP status codes mean different things for a source and a target);
 * this is the fallback and the single place lease loss is recognised.
 */
export function toTransferError(err: unknown): TransferError {
  if (err instanceof TransferError) return err;
  if (err instanceof StaleOwnerError) return new LeaseLostError(err.message, err);
  if (err instanceof ConnectivityError) {
    return new TransferError(err.code, err.message, { retryable: TRANSIENT_CONNECTIVITY_CODES.has(err.code), cause: err });
  }
  if (isS3Error(err)) return s3Failure(err, 'S3');
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) return connectionLost('a peer', err);
  const message = err instanceof Error ? err.message : String(err);
  // ssh2 fails every outstanding SFTP request with this when its channel closes.
  if (message === 'No response from server') return connectionLost('the SFTP server', err);
  return new TransferError('INTERNAL', `unexpected failure: ${message}`, { cause: err });
}
