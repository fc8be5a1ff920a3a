/**
 * The exit codes a script can rely on (README "The eft CLI"), and the errors
 * that carry them. Every message says what to do next.
 */
export const EXIT = {
  OK: 0,
  /** A job failed or was cancelled, an endpoint failed validation, or a host key was not confirmed. */
  FAILED: 1,
  /** The command line is wrong (unknown option, missing argument, bad value). */
  USAGE: 2,
  /** The API refused the request (4xx) or what it names does not exist. */
  REFUSED: 3,
  /** The API cannot be reached, or does not accept the credentials. */
  UNREACHABLE: 4,
  /** Ctrl-C while watching: the jobs go on in the engine. */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** The API's error code, when the API refused. */
    readonly code?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.USAGE, 'USAGE');
export const notFound = (message: string) => new CliError(message, EXIT.REFUSED, 'NOT_FOUND');
