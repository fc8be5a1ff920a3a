/**
 * The one reading of S3's errors. Validation, the source catalog, the
 * server-side copy and the worker's streams all ask it what an error means,
 * so one failure gets one reason code wherever it happens (a 403 is
 * ACCESS_DENIED in every one of them).
 */
import { connectionLost, TRANSIENT_NETWORK_CODES, TransferError } from '../../domain/transfer/errors';

interface S3ErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** Error names S3 (and the SDK) use for trouble that another attempt may not meet. */
const THROTTLING_OR_UNAVAILABLE = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
]);

export type S3ErrorKind =
  /** No such key (or version): 404. */
  | 'missing'
  | 'bucket-missing'
  /** A condition failed (412): the object changed, or a name was taken meanwhile. */
  | 'precondition-failed'
  /** 403 or a KMS refusal: the bucket's owner, its policy, the key policy or the engine's role. */
  | 'denied'
  /** The bucket is in another region than the endpoint says. */
  | 'wrong-region'
  /** Throttling, 5xx, timeouts: worth another attempt. */
  | 'transient'
  /** The connection to S3 broke (ECONNRESET, …): worth another attempt too. */
  | 'connection-lost'
  | 'other';

export function s3HttpStatus(err: unknown): number | undefined {
  return (err as S3ErrorShape | undefined)?.$metadata?.httpStatusCode;
}

export function s3ErrorName(err: unknown): string {
  return (err as S3ErrorShape | undefined)?.name ?? '';
}

export function s3ErrorKind(err: unknown): S3ErrorKind {
  const e = (err ?? {}) as S3ErrorShape;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  if (name === 'NoSuchBucket') return 'bucket-missing';
  if (name === 'NoSuchKey' || name === 'NoSuchVersion' || name === 'NotFound' || status === 404) return 'missing';
  if (status === 412) return 'precondition-failed';
  if (status === 403 || name === 'AccessDenied' || name === 'Forbidden' || name.startsWith('KMS.')) return 'denied';
  if (status === 301 || name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') return 'wrong-region';
  if ((status !== undefined && (status >= 500 || status === 429)) || THROTTLING_OR_UNAVAILABLE.has(name) || e.$retryable) {
    return 'transient';
  }
  if (e.code !== undefined && TRANSIENT_NETWORK_CODES.has(e.code)) return 'connection-lost';
  return 'other';
}

/**
 * An S3 failure of the worker as a TransferError, `what` saying which object
 * or bucket (e.g. "s3://b/k"). A missing object becomes `missingCode`.
 */
export function s3Failure(err: unknown, what: string, missingCode: 'NOT_FOUND' | 'SOURCE_MISSING' = 'NOT_FOUND'): TransferError {
  if (err instanceof TransferError) return err;
  const name = s3ErrorName(err);
  const status = s3HttpStatus(err);
  switch (s3ErrorKind(err)) {
    case 'bucket-missing':
      return new TransferError('BUCKET_MISSING', `the bucket of ${what} does not exist`, { cause: err });
    case 'missing':
      return new TransferError(missingCode, `${what} does not exist`, { cause: err });
    case 'precondition-failed':
      // Reads are made with If-Match on the ETag seen first: the object was replaced meanwhile.
      return new TransferError('SOURCE_CHANGED', `${what} changed during the transfer`, { cause: err });
    case 'denied':
      return new TransferError(
        'ACCESS_DENIED',
        `the engine may not access ${what}: check the bucket policy, KMS key policy and the worker's role`,
        { cause: err },
      );
    case 'connection-lost':
      return connectionLost(`S3 (${what})`, err);
    case 'transient':
      return new TransferError('S3_UNAVAILABLE', `S3 did not complete a request on ${what} (${name || status})`, {
        retryable: true,
        cause: err,
      });
    default:
      return new TransferError(
        'S3_FAILURE',
        `S3 refused a request on ${what}: ${name || 'error'}${status ? ` (HTTP ${status})` : ''}`,
        {
          cause: err,
        },
      );
  }
}
