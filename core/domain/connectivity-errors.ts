/**
 * Typed failures of reaching a partner's server (spec FR-5). Each carries a
 * stable reason `code` that endpoint validation records and jobs report.
 * Messages are written for a person fixing the endpoint: they name the host,
 * port, user and path as configured, never secret material and never internals
 * of the engine's own network.
 */
import { EftError } from './errors';

export const CONNECTIVITY_ERROR_CODES = [
  'DNS_FAILURE',
  'HOST_NOT_ALLOWED',
  'CONNECTION_REFUSED',
  'TIMEOUT',
  'AUTH_FAILED',
  'HOST_KEY_MISMATCH',
  'HOST_KEY_UNCONFIRMED',
  'NO_COMMON_ALGORITHM',
  /** Anything else while setting up the session. */
  'CONNECTION_FAILED',
] as const;
export type ConnectivityErrorCode = (typeof CONNECTIVITY_ERROR_CODES)[number];

export abstract class ConnectivityError extends EftError {
  abstract override readonly code: ConnectivityErrorCode;
}

export function isConnectivityError(error: unknown): error is ConnectivityError {
  return error instanceof ConnectivityError;
}

/** The host name does not resolve (or the lookup failed or timed out). */
export class DnsFailureError extends ConnectivityError {
  readonly code = 'DNS_FAILURE';
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Categories of addresses the SSRF guard refuses. 'non-canonical' is a numeric
 * host written in a form other than a dotted quad (0x7f.1, 2130706433, 0177.0.0.1),
 * a classic way to smuggle an internal address past naive checks.
 */
export const BLOCKED_CATEGORIES = [
  'loopback',
  'instance-metadata',
  'link-local',
  'unspecified',
  'private',
  'shared',
  'unique-local',
  'multicast',
  'reserved',
  'non-canonical',
] as const;
export type BlockedCategory = (typeof BLOCKED_CATEGORIES)[number];

/** The host is (or resolves to) an address the engine must not connect to. */
export class HostNotAllowedError extends ConnectivityError {
  readonly code = 'HOST_NOT_ALLOWED';
  constructor(
    readonly host: string,
    readonly category: BlockedCategory,
    message: string,
  ) {
    super(message);
  }
}

/** Nothing accepts connections on host:port, or the connection was reset or unroutable. */
export class ConnectionRefusedError extends ConnectivityError {
  readonly code = 'CONNECTION_REFUSED';
}

/** The TCP connection or the SSH handshake did not complete in time. */
export class ConnectionTimeoutError extends ConnectivityError {
  readonly code = 'TIMEOUT';
}

/** The server refused the credentials, or the configured key cannot be used. */
export class AuthenticationFailedError extends ConnectivityError {
  readonly code = 'AUTH_FAILED';
}

/** The server offered a host key other than the pinned one: refused, possibly a man in the middle. */
export class HostKeyMismatchError extends ConnectivityError {
  readonly code = 'HOST_KEY_MISMATCH';
  constructor(
    readonly offeredFingerprint: string,
    readonly pinnedFingerprint: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * No host key is pinned for the endpoint. The connection is refused; the
 * offered fingerprint is reported so the customer can confirm it out of band
 * and pin it (trust on first use is an explicit step, never a default).
 */
export class HostKeyUnconfirmedError extends ConnectivityError {
  readonly code = 'HOST_KEY_UNCONFIRMED';
  constructor(
    readonly offeredFingerprint: string,
    message: string,
  ) {
    super(message);
  }
}

export type SshAlgorithmClass = 'kex' | 'serverHostKey' | 'cipher' | 'mac';

/**
 * The partner supports no algorithm of one class in the endpoint's SSH
 * security policy. `offered` is the partner's list for that class, when the
 * handshake got far enough to see it.
 */
export class NoCommonAlgorithmError extends ConnectivityError {
  readonly code = 'NO_COMMON_ALGORITHM';
  constructor(
    readonly algorithmClass: SshAlgorithmClass,
    readonly offered: readonly string[] | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Any other failure to set up the session; the message says what happened. */
export class ConnectionFailedError extends ConnectivityError {
  readonly code = 'CONNECTION_FAILED';
}
