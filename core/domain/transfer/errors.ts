/**
 * Typed failures of the transfer worker. Each has a stable `code` that the job
 * records (lastError) and a `retryable` flag: transient trouble (a reset
 * connection, a timeout, throttling or a 5xx) is retried inside the worker,
 * resuming where it can; anything else fails the job at once with its reason.
 * Messages name hosts, paths, buckets and keys, never secret material.
 */
import { ConnectivityError } from '../connectivity-errors';
import type { ErrorCode } from '../error-codes';
import { EftError, StaleOwnerError } from '../errors';

export class TransferError extends EftError {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
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

/**
 * How the worker's process ends when it was interrupted rather than failed: it lost the lease (3) or
 * was told to stop (143, as a process ended by SIGTERM). The state machine's fail task leaves its jobs
 * to be resumed (orchestration.ts isInterruption); any other non-zero status fails them.
 */
export const INTERRUPTED_EXIT = { leaseLost: 3, stopped: 143 } as const;

/** A connection (SFTP channel, TCP socket or HTTP stream) broke mid-transfer. */
export function connectionLost(what: string, cause?: unknown): TransferError {
  return new TransferError('CONNECTION_LOST', `the connection to ${what} was lost`, { retryable: true, cause });
}

/** Socket-level failures that a new connection may well not have. */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
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

/**
 * Any error as a TransferError. Call sites that know what failed classify
 * first (SFTP status codes mean different things for a source and a target);
 * this is the fallback and the single place lease loss is recognised.
 */
export function toTransferError(err: unknown): TransferError {
  if (err instanceof TransferError) return err;
  // A Node stream destroyed while its _construct was failing reports both errors as one AggregateError: an
  // SFTP channel lost during OPEN is seen by the stream's watch and by the OPEN alike. Classified by what it
  // holds (a lost connection stays retryable; a stop or a lost lease among them wins), not as INTERNAL.
  const aggregated = aggregatedErrors(err);
  if (aggregated) {
    const errors = aggregated.map(toTransferError);
    return errors.find((error) => !error.retryable) ?? (errors[0] as TransferError);
  }
  if (err instanceof StaleOwnerError) return new LeaseLostError(err.message, err);
  if (err instanceof ConnectivityError) {
    return new TransferError(err.code, err.message, { retryable: TRANSIENT_CONNECTIVITY_CODES.has(err.code), cause: err });
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) return connectionLost('a peer', err);
  const message = err instanceof Error ? err.message : String(err);
  // ssh2 fails every outstanding SFTP request with this when its channel closes.
  if (message === 'No response from server') return connectionLost('the SFTP server', err);
  return new TransferError('INTERNAL', `unexpected failure: ${message}`, { cause: err });
}

/** The errors of an AggregateError (by name and shape: Node's internals may build it in another realm), if it is one. */
function aggregatedErrors(err: unknown): unknown[] | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { name, errors } = err as { name?: unknown; errors?: unknown };
  return name === 'AggregateError' && Array.isArray(errors) && errors.length > 0 ? errors : undefined;
}
