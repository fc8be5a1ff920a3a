/**
 * Transfers that start by themselves (issue 14): routes (an object created in
 * a customer's S3 endpoint is delivered to a target) and schedules (a partner's
 * SFTP folder is polled and new, stable files are pulled). Both create jobs
 * through the same service as POST /transfers (createJobsForFiles) and record
 * on each job what started it (JobTrigger).
 */

/** Where the files of a route or schedule go: a folder of the target endpoint. */
export interface TriggerTarget {
  endpointId: string;
  /** Folder relative to the target endpoint's base path or prefix; a file keeps its name (and, for a route with includeSubfolders, its sub-path) under it. */
  path: string;
  /** An SFTP target folder that does not exist is created (default true); false fails the job with the partner's error. */
  createDirectories: boolean;
}

/** Versioned like endpoints: every write increments `version` and is conditional on it. */
export interface TriggerBase {
  customerId: string;
  name: string;
  /** A disabled route or schedule starts nothing; its record and history stay. */
  enabled: boolean;
  target: TriggerTarget;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** "When an object is created under this S3 endpoint's folder (matching the pattern), deliver it to the target." */
export interface Route extends TriggerBase {
  routeId: string;
  source: {
    /** An S3 endpoint of the customer whose direction allows it as a source. */
    endpointId: string;
    /** Folder relative to the endpoint's prefix ("" = the whole prefix). */
    path: string;
    /** Glob on the file name (core/domain/glob.ts); absent = every file. */
    pattern?: string;
    /** Objects in sub-folders of `path` match too, and keep their sub-path under the target folder. */
    includeSubfolders: boolean;
  };
  /**
   * The source endpoint's bucket when the route was last written: how an
   * S3 event finds its routes (RouteStore.routesForBucket). The match is
   * checked again against the endpoint itself, so a stale value only misses.
   */
  sourceBucket: string;
}

export type ScheduleTiming =
  /** Every `everySeconds` seconds (the deployment's minimum: 60 in AWS, lower locally). */
  | { kind: 'rate'; everySeconds: number }
  /** Five-field cron (minute hour day-of-month month day-of-week) in an IANA time zone. */
  | { kind: 'cron'; expression: string; timeZone: string };

/** What happens to a pulled file at the source once its job has SUCCEEDED (verified). */
export type AfterTransferAction =
  | { action: 'LEAVE' }
  | { action: 'DELETE' }
  /** Moved into this folder (relative to the source endpoint's base path), created if missing. */
  | { action: 'MOVE'; archivePath: string };

/** "Poll this partner folder on this timing and pull new, stable files to the target." */
export interface Schedule extends TriggerBase {
  scheduleId: string;
  source: {
    /** An SFTP endpoint of the customer whose direction allows it as a source. */
    endpointId: string;
    /** Folder relative to the endpoint's base path. */
    path: string;
    pattern?: string;
  };
  timing: ScheduleTiming;
  /**
   * A file at least this old (by its modification time) is taken at the first
   * poll that sees it; a younger one only once its size and modification time
   * are unchanged across two polls. 0: always the two polls.
   */
  minimumFileAgeSeconds: number;
  afterTransfer: AfterTransferAction;
  /** When the schedule is next due (ISO 8601, UTC); the tick claims a due schedule by advancing it. */
  nextRunAt: string;
}

/** What started a job; recorded on the job and shown by GET /jobs. Absent on jobs created before triggers existed (API). */
export type JobTrigger =
  | { kind: 'API' }
  | { kind: 'ROUTE'; routeId: string; eventId: string }
  | { kind: 'SCHEDULE'; scheduleId: string; pollId: string };

/** The after-transfer action of a pulled file, on its job: run once the job SUCCEEDED, retried until DONE. */
export interface AfterTransferOutcome {
  action: 'DELETE' | 'MOVE';
  /** MOVE: where the file goes (relative to the source endpoint's base path). */
  archivePath?: string;
  status: 'PENDING' | 'DONE' | 'FAILED';
  attempts: number;
  lastError?: { code: string; message: string };
  /** When it last ran (DONE or FAILED). */
  at?: string;
}
