/**
 * The progress display of `eft cp` and `eft jobs watch`: polls a request's jobs and shows them until
 * every one has ended. The pieces: model.ts (views over time → state), frame.ts (state + width → the
 * TTY frame), lines.ts (the line-per-update form), writer.ts (TTY or lines). See docs/cli-progress.md.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProgressJob } from './job';
import { initialState, observe } from './model';
import { type ProgressOutput, type ProgressWriter, writerFor } from './writer';

export type { ProgressJob } from './job';

export interface WatchOptions<J extends ProgressJob = ProgressJob> {
  /** The request's jobs now (all pages of GET /jobs?requestId=). */
  fetchJobs: () => Promise<J[]>;
  /** TTY: redrawn bars; else one line per update. */
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Poll interval, default 1000 (the worker records progress at most once a second). */
  intervalMs?: number;
  signal?: AbortSignal;
  /** Running files with a bar on a TTY (default 10, fewer on a short terminal). */
  maxFileBars?: number;
  /** Least time between summary lines when not a TTY (default 5000). */
  summaryEveryMs?: number;
  /** Failed polls in a row before giving up (default 5); each one before is noted and retried. */
  maxFailedPolls?: number;
  /** The clock (ms), for tests and replays; default Date.now. */
  now?: () => number;
}

const DEFAULT_INTERVAL_MS = 1000;
const DEFAULT_MAX_FAILED_POLLS = 5;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** `promise`, or a rejection with the signal's reason as soon as it is aborted (a hanging request does not hold the watch). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/**
 * Polls until every job is SUCCEEDED, FAILED or CANCELLED; returns the final views. Aborting the
 * signal stops the watch (the jobs go on), leaves the last frame or a summary line, and rejects with
 * the signal's reason. A failed poll is noted and retried; `maxFailedPolls` in a row reject with the
 * last error.
 */
export async function watchJobs<J extends ProgressJob>(options: WatchOptions<J>): Promise<J[]> {
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const maxFailed = options.maxFailedPolls ?? DEFAULT_MAX_FAILED_POLLS;
  const { signal } = options;
  const writer: ProgressWriter = writerFor(options.out as ProgressOutput, {
    ...(options.maxFileBars !== undefined ? { maxFileBars: options.maxFileBars } : {}),
    ...(options.summaryEveryMs !== undefined ? { summaryEveryMs: options.summaryEveryMs } : {}),
  });
  let state = initialState(now());
  let failed = 0;
  let drawn = false;
  const stopIfAborted = () => {
    if (!signal?.aborted) return;
    if (drawn) writer.finish({ ...state, now: now() }, []);
    throw signal.reason;
  };
  try {
    for (;;) {
      stopIfAborted();
      let jobs: J[];
      try {
        jobs = await untilAborted(options.fetchJobs(), signal);
        failed = 0;
      } catch (error) {
        stopIfAborted();
        failed++;
        const at = { ...state, now: now() };
        if (failed >= maxFailed) {
          writer.note(`giving up: ${failed} polls in a row failed, the last with: ${messageOf(error)}`, at);
          throw error;
        }
        writer.note(`could not get the jobs (${messageOf(error)}); trying again`, at);
        drawn = true;
        await sleep(interval, undefined, { signal }).catch(stopIfAborted);
        continue;
      }
      const observed = observe(state, jobs, now());
      state = observed.state;
      if (state.finished) {
        writer.finish(state, observed.events);
        return jobs;
      }
      writer.update(state, observed.events);
      drawn = true;
      await sleep(interval, undefined, { signal }).catch(stopIfAborted);
    }
  } finally {
    writer.close();
  }
}
