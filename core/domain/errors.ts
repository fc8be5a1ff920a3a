/**
 * Typed errors of the engine. Each carries a stable reason `code` that jobs
 * record and the HTTP layer maps to a status in one place (core/control-plane/http).
 * Messages must never contain secret material.
 */
import type { ErrorCode } from './error-codes';

export abstract class EftError extends Error {
  /** One of the registered codes (./error-codes.ts), so every code a customer can meet is documented. */
  abstract readonly code: ErrorCode;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export interface FieldIssue {
  field: string;
  message: string;
}

export class ValidationError extends EftError {
  readonly code = 'VALIDATION_FAILED';
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((i) => `${i.field}: ${i.message}`).join('; ') || 'invalid request');
  }
}

export class NotFoundError extends EftError {
  readonly code = 'NOT_FOUND';
}

/** A request that conflicts with the current state (e.g. cancel after start). */
export class ConflictError extends EftError {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = 'CONFLICT') {
    super(message);
    this.code = code;
  }
}

/** A job transition that the lifecycle does not allow from the job's current state. */
export class IllegalTransitionError extends ConflictError {
  constructor(
    readonly jobId: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`job ${jobId} cannot move from ${from} to ${to}`, 'ILLEGAL_TRANSITION');
  }
}

/** A write by a holder whose lease (fencing epoch) is no longer current. */
export class StaleOwnerError extends ConflictError {
  constructor(message: string) {
    super(message, 'STALE_OWNER');
  }
}

/** The partition lease is held by someone else and has not expired. */
export class LeaseHeldError extends ConflictError {
  constructor(
    readonly partitionId: string,
    readonly holder: { ownerRegion: string; expiresAt: number },
  ) {
    super(`partition lease is held by ${holder.ownerRegion} until ${new Date(holder.expiresAt).toISOString()}`, 'LEASE_HELD');
  }
}

export class UnauthorizedError extends EftError {
  readonly code = 'UNAUTHORIZED';
}

export class ForbiddenError extends EftError {
  readonly code = 'FORBIDDEN';
}

export class PayloadTooLargeError extends EftError {
  readonly code = 'PAYLOAD_TOO_LARGE';
}

/** A failure worth retrying (throttling, 5xx, a dropped connection): the state machine retries it. */
export class TransientError extends EftError {
  readonly code = 'TRANSIENT';
}

/** The engine's own configuration is wrong (a missing or malformed setting): an operator's matter. */
export class ConfigurationError extends EftError {
  readonly code = 'CONFIGURATION';
}

/** The destination does not hold what the data plane reported delivering. */
export class VerificationError extends EftError {
  readonly code = 'VERIFICATION_FAILED';
}

/** A source that was deleted (or never existed); retrying does not help. */
export class SourceMissingError extends EftError {
  readonly code = 'SOURCE_MISSING';
}

/** A server-side copy's source that S3 could not find although it exists: not worth a retry. */
export class CopySourceNotFoundError extends EftError {
  readonly code = 'COPY_SOURCE_NOT_FOUND';
}

/** The source was overwritten while it was being copied; the copy would mix two versions. */
export class SourceChangedError extends EftError {
  readonly code = 'SOURCE_CHANGED';
}

/** The target key holds other content; the conflict policy is "fail", never overwrite. */
export class TargetExistsError extends EftError {
  readonly code = 'TARGET_EXISTS';
}

/** The engine's role may not read or write there (a bucket policy, a KMS key). */
export class AccessDeniedError extends EftError {
  readonly code = 'ACCESS_DENIED';
}

/**
 * An S3 endpoint registered before bucket ownership was enforced: with no
 * owner to name, the engine sends no request to its bucket until the customer
 * sets `s3.bucketOwner` and validates the endpoint again.
 */
export class BucketOwnerUnknownError extends ConflictError {
  constructor(endpointId: string) {
    super(
      `S3 endpoint ${endpointId} has no bucket owner: set s3.bucketOwner (PATCH /endpoints/${endpointId}) and validate it again`,
      'BUCKET_OWNER_UNKNOWN',
    );
  }
}

/**
 * An endpoint whose type no driver of this engine serves (a record written by
 * a newer engine, or a kind left out of the build): the engine's fault, not
 * the caller's, so it is not one of the statuses a client can act on.
 */
export class UnsupportedEndpointError extends EftError {
  readonly code = 'UNSUPPORTED_ENDPOINT';
  constructor(
    readonly endpointId: string,
    readonly type: string,
  ) {
    super(`endpoint ${endpointId} is of type ${type}, which no driver of this engine serves`);
  }
}
