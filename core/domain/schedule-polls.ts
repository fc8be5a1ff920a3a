/**
 * What a schedule's polls need besides the schedule (core/domain/triggers.ts):
 * the message a tick sends for each claimed run, the queue it goes to, and the
 * sightings a poll keeps of the files it saw (trigger-state table).
 */

/** One claimed run of a schedule: the body of a message on the schedule polls queue. */
export interface PollRequest {
  customerId: string;
  scheduleId: string;
  /** Deterministic per run (schedule id + the nextRunAt the tick claimed): jobs record it as trigger.pollId. */
  pollId: string;
  /** The nextRunAt the run was claimed at (ISO 8601). */
  dueAt: string;
}

/** Where ticks send the polls of the runs they claimed (SQS SchedulePollsQueue). */
export interface PollQueue {
  /** Sends the polls, in as few requests as the queue allows; returns those it could not send. */
  send(polls: readonly PollRequest[]): Promise<PollRequest[]>;
}

/** What the polls of one schedule remember of a file (one version of it: size and modification time). */
export interface Sighting {
  /** The file's path relative to the source endpoint (a job's sourcePath). */
  path: string;
  size: number;
  /** Modification time in ms since the epoch, as the listing reported it (absent if the server reports none). */
  modifiedAt?: number;
  /** When a poll first saw this version (ISO 8601). */
  firstSeenAt: string;
  /** The poll that first saw this version: a later poll, not the same one redelivered, proves it stable. */
  firstSeenBy: string;
  /** The job that took this version; a file with one is never taken again while it is unchanged. */
  jobId?: string;
  /** The job's after-transfer action (DELETE, MOVE) has not ended yet (DONE, or given up): checked on every poll. */
  actionPending?: boolean;
  /** When the store may forget the sighting (epoch seconds, the table's TTL). */
  expiresAt: number;
}

/** The sightings of each schedule (pk `sched#<scheduleId>`, sk the path). */
export interface SightingStore {
  list(scheduleId: string): Promise<Sighting[]>;
  /** Writes (replaces) the sightings, in as few requests as the store allows. */
  putMany(scheduleId: string, sightings: readonly Sighting[]): Promise<void>;
  removeMany(scheduleId: string, paths: readonly string[]): Promise<void>;
}
