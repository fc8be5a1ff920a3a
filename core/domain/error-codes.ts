/**
 * Every reason code the engine reports, in one registry: the `error.code` of
 * an API response, the `reason` of a failed endpoint validation, and the
 * `errorCode` of a FAILED job. docs/api.md is generated from it, and the
 * compiler refuses an error raised with a code that is not here (EftError's
 * and TransferError's codes are ErrorCodes).
 */
import { VALIDATION_REASONS } from './endpoint';

export type ErrorCodeUse = 'request' | 'validation' | 'job';

export interface ErrorCodeEntry {
  /** Where a customer meets the code. */
  uses: readonly ErrorCodeUse[];
  /** The HTTP status of a request refused with it. */
  status?: number;
  meaning: string;
}

const request = (status: number, meaning: string): ErrorCodeEntry => ({ uses: ['request'], status, meaning });
const job = (meaning: string): ErrorCodeEntry => ({ uses: ['job'], meaning });
const validation = (meaning: string): ErrorCodeEntry => ({ uses: ['validation', 'job'], meaning });

export const ERROR_CODES = {
  // Requests
  VALIDATION_FAILED: request(400, 'the request is invalid; `error.fields` names each bad field'),
  MALFORMED_JSON: request(400, 'the body is not JSON, or holds a key such as `__proto__`'),
  BAD_REQUEST: request(400, 'the request could not be read (e.g. a malformed header)'),
  UNAUTHORIZED: request(401, 'the request is not signed by a registered principal'),
  FORBIDDEN: request(403, 'the principal may not do this'),
  NOT_FOUND: request(404, 'no such resource for this customer (another customer’s resources answer the same)'),
  PAYLOAD_TOO_LARGE: request(413, 'the body is larger than the API accepts'),
  UNSUPPORTED_MEDIA_TYPE: request(415, 'the body is not `application/json`'),
  CONFLICT: request(409, 'the resource is not in a state that allows the request'),
  VERSION_CONFLICT: request(409, 'the endpoint changed since it was read; read it again and retry'),
  ILLEGAL_TRANSITION: {
    uses: ['request', 'job'],
    status: 409,
    meaning: 'the job’s lifecycle does not allow this change (e.g. cancelling a running job)',
  },
  IDEMPOTENCY_KEY_REUSED: request(409, 'the Idempotency-Key was first used with other parameters'),
  ENDPOINT_NOT_ACTIVE: request(409, 'an endpoint of the transfer is not ACTIVE (validate it first)'),
  NOT_VALIDATED: request(409, 'the endpoint’s current settings have not passed validation, so it cannot be activated'),
  NOT_REDRIVABLE: request(409, 'only a FAILED or CANCELLED job, or one whose execution is gone, can be re-driven'),
  JOB_IN_PROGRESS: request(
    409,
    'an execution holds the job’s partition (in the region the message names): the job is running, so it cannot be cancelled or re-driven now; retry once it ends or its lease expires',
  ),
  NO_SECRET: request(409, 'the endpoint needs credentials and has none'),
  SOURCE_ACCESS_DENIED: request(409, 'S3 refused the engine access to the source (bucket owner or bucket policy)'),
  BUCKET_OWNER_UNKNOWN: {
    uses: ['request', 'validation', 'job'],
    status: 409,
    meaning: 'the S3 endpoint has no `s3.bucketOwner`; set it (PATCH) before it takes jobs',
  },
  INTERNAL: {
    uses: ['request', 'job'],
    status: 500,
    meaning: 'an unexpected failure; quote the request id (or job id) to the operator',
  },

  // Endpoint validation (and the same failures met by a job's connection)
  DNS_FAILURE: validation('the host name does not resolve'),
  CONNECTION_REFUSED: validation('nothing accepts connections on the host and port'),
  CONNECTION_FAILED: validation('the connection failed before SSH was established'),
  TIMEOUT: validation('the partner did not answer in time (or a transfer moved no data for the stall timeout)'),
  AUTH_FAILED: validation('the partner refused the credentials'),
  HOST_KEY_MISMATCH: validation('the server’s host key is not the confirmed one: possibly a different server'),
  HOST_KEY_UNCONFIRMED: validation('no host key is confirmed yet: confirm the offered fingerprint (PATCH hostKeyFingerprint)'),
  NO_COMMON_ALGORITHM: validation(
    'the partner offers no key exchange, cipher, MAC or host key algorithm of the endpoint’s `sftp.securityPolicy`; the message names what it offered',
  ),
  HOST_NOT_ALLOWED: validation('the host is an address the engine may not connect to (private, loopback, metadata)'),
  PATH_MISSING: validation('the base path does not exist on the partner'),
  PERMISSION_DENIED: validation('the partner refused the operation on the path'),
  BUCKET_MISSING: validation('the bucket does not exist'),
  BUCKET_NOT_OWNED: validation('the bucket is not owned by the endpoint’s `s3.bucketOwner`'),
  ACCESS_DENIED: validation('S3 refused the engine (bucket policy, KMS key policy or IAM)'),
  UNKNOWN: validation('validation failed for a reason the engine could not classify; the message says more'),

  // Jobs
  SOURCE_MISSING: job('the source file or object does not exist'),
  SOURCE_NOT_A_FILE: job('the source path is not a regular file'),
  SOURCE_CHANGED: job('the source changed while it was read'),
  COPY_SOURCE_NOT_FOUND: job('the S3 source disappeared during the server-side copy'),
  TARGET_EXISTS: job('the target already holds other content; the engine never replaces a file'),
  TARGET_PATH_MISSING: job('the target folder does not exist on the partner'),
  CONTENT_MISMATCH: job('content changed between two hops of a staged transfer'),
  STAGED_COPY_UNAVAILABLE: job(
    'the job was staged in the other region and its staged copy did not replicate to this region within the replication bound (15 minutes); re-drive it: the re-drive delivers from the staged copy if it is in reach by then, else reads the source again',
  ),
  SIZE_MISMATCH: job('the delivered file has another size than the source'),
  VERIFICATION_FAILED: job('the destination does not hold what was delivered'),
  CONNECTION_LOST: job('the connection broke and retries did not get through'),
  SFTP_FAILURE: job('the partner’s SFTP server refused a request'),
  S3_UNAVAILABLE: job('S3 throttled or failed (5xx) and retries did not get through'),
  S3_FAILURE: job('S3 refused a request'),
  ENDPOINT_MISSING: job('an endpoint of the job was deleted'),
  ENDPOINT_INVALID: job('an endpoint’s settings cannot be used'),
  INVALID_PATH: job('a stored path is not a valid relative path'),
  FLOW_MISMATCH: job('the endpoints’ kinds no longer match the job'),
  JOB_NOT_FOUND: job('the job disappeared while it ran'),
  LEASE_HELD: job('the other region holds the partition (jobs wait for it instead of failing: a request may still see this)'),
  EXECUTION_LOST: job(
    'the execution running the job is gone (its region failed, or it was stopped or timed out); ended so that it could be re-driven',
  ),
  LEASE_LOST: job('the other region took the job over; this attempt committed nothing'),
  STALE_OWNER: job('a write under an outdated lease was refused'),
  STOPPED: job('the worker was stopped (SIGTERM) before the transfer finished'),
  WORKER_FAILED: job('the worker task ended without a result'),
  TRANSIENT: job('a transient failure outlasted the retries'),
  UNSUPPORTED_ENDPOINT: job('no driver of this engine serves the endpoint’s type'),
  CONFIGURATION: job('the engine’s own configuration is wrong (an operator’s matter, not the customer’s)'),

  // Partner protection (issue 14)
  PARTNER_BUSY: {
    uses: ['request', 'job'],
    status: 503,
    meaning:
      'every session the SFTP endpoint’s `maxConcurrency` allows is in use (by transfers in either region) and none freed up within the request’s wait; retry after `Retry-After` seconds. Transfers wait for a session instead',
  },
} as const satisfies Record<string, ErrorCodeEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** Every reason endpoint validation can record is a registered code (checked by the compiler). */
export const VALIDATION_REASON_CODES: readonly ErrorCode[] = VALIDATION_REASONS;
