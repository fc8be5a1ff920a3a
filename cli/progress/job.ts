/**
 * What the progress display reads of a job: a structural subset of the API's job view
 * (core/control-plane/transfers/view.ts, toJobView), so the CLI passes the views it received as they are.
 */
export interface ProgressJob {
  jobId: string;
  status: string;
  source: { path: string };
  target: { path: string };
  /** Written by the worker while the job runs, at most once a second (see the model for what that means). */
  bytesTransferred: number;
  /** The file's size as listed when the job was created; absent when the listing did not say. */
  bytesTotal?: number;
  error?: { code: string; message?: string };
  result?: { bytes?: number; alreadyPresent?: boolean };
}

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
/** Statuses in which a job's bytes move (or are being checked): the display gives each such file a bar. */
export const ACTIVE_STATUSES: ReadonlySet<string> = new Set(['RUNNING', 'VERIFYING']);

export const isTerminal = (status: string) => TERMINAL_STATUSES.has(status);
