/**
 * The progress model: job views seen over time → what the display shows. Pure: each poll's views and
 * the time of the poll go in, the next state and the status changes come out.
 *
 * How fresh the numbers are: a running worker writes a job's bytesTransferred at most once per
 * progress interval (core/data-plane/liveness.ts, EFT_PROGRESS_INTERVAL_MS, 1 s by default; the first
 * write only after one interval, so a small file goes from 0 to done), and an S3→S3 copy records the
 * parts done at most once per checkpoint interval (1 s) as they complete. Polling about as often, a
 * poll sees no change about as often as it sees one: rates are taken over a window of several
 * seconds, not between two polls, so they neither drop to zero nor double from one frame to the next.
 * A running file whose count has not moved for STALL_MS says so instead of showing a rate.
 */

import { sanitize } from './format';
import { ACTIVE_STATUSES, isTerminal, type ProgressJob } from './job';

/** Rates are measured over this window (several progress writes). */
export const RATE_WINDOW_MS = 5000;
/** A running file whose byte count has not moved for this long shows how long it has been quiet. */
export const STALL_MS = 15_000;

export interface Sample {
  at: number;
  bytes: number;
}

export interface FileProgress {
  jobId: string;
  /** The source path, safe to print. */
  name: string;
  status: string;
  bytes: number;
  total?: number;
  error?: { code: string; message: string };
  alreadyPresent: boolean;
  /** When the display first saw it RUNNING or VERIFYING. */
  activeSince?: number;
  /** When its byte count last changed (or it was first seen active). */
  movedAt: number;
  /** Its byte count at recent polls (the rate window and one sample before it). */
  samples: Sample[];
}

export interface ProgressState {
  startedAt: number;
  now: number;
  /** Jobs in the order first seen. */
  files: FileProgress[];
  /** Bytes seen moving since the watch began (what rates are measured on; files already there do not count). */
  moved: number;
  movedSamples: Sample[];
  /** Every job is SUCCEEDED, FAILED or CANCELLED. */
  finished: boolean;
}

export type ProgressEvent =
  | { kind: 'started'; file: FileProgress }
  | { kind: 'succeeded'; file: FileProgress }
  | { kind: 'failed'; file: FileProgress }
  | { kind: 'cancelled'; file: FileProgress };

export function initialState(now: number): ProgressState {
  return { startedAt: now, now, files: [], moved: 0, movedSamples: [], finished: false };
}

/** The samples still needed at `now`: those in the window and the last one before it. */
function trimmed(samples: Sample[], now: number): Sample[] {
  const first = samples.findIndex((s) => s.at >= now - RATE_WINDOW_MS);
  if (first === -1) return samples.slice(-1);
  return samples.slice(Math.max(0, first - 1));
}

/** Bytes per second over the samples; undefined until two polls apart. */
export function rateOf(samples: Sample[]): number | undefined {
  const oldest = samples[0];
  const newest = samples[samples.length - 1];
  if (!oldest || !newest || newest.at <= oldest.at) return undefined;
  return Math.max(0, (newest.bytes - oldest.bytes) / ((newest.at - oldest.at) / 1000));
}

function fileOf(job: ProgressJob, previous: FileProgress | undefined, now: number): FileProgress {
  const bytes = Math.max(0, Number.isFinite(job.bytesTransferred) ? job.bytesTransferred : 0);
  const total = job.bytesTotal !== undefined && Number.isFinite(job.bytesTotal) ? Math.max(0, job.bytesTotal) : undefined;
  const active = ACTIVE_STATUSES.has(job.status);
  const activeSince = previous?.activeSince ?? (active ? now : undefined);
  const moved = previous === undefined || bytes !== previous.bytes || (active && previous.activeSince === undefined);
  // A count that went down is an attempt starting over: its rate starts over too.
  const history = previous && bytes >= previous.bytes ? previous.samples : [];
  return {
    jobId: job.jobId,
    name: sanitize(job.source.path),
    status: job.status,
    bytes,
    ...(total !== undefined ? { total } : {}),
    ...(job.error ? { error: { code: sanitize(job.error.code), message: sanitize(job.error.message ?? '') } } : {}),
    alreadyPresent: job.result?.alreadyPresent === true,
    ...(activeSince !== undefined ? { activeSince } : {}),
    movedAt: moved ? now : (previous?.movedAt ?? now),
    samples: trimmed([...history, { at: now, bytes }], now),
  };
}

function eventOf(file: FileProgress, previous: FileProgress | undefined): ProgressEvent | undefined {
  if (previous?.status === file.status) return undefined;
  if (file.status === 'SUCCEEDED') return { kind: 'succeeded', file };
  if (file.status === 'FAILED') return { kind: 'failed', file };
  if (file.status === 'CANCELLED') return { kind: 'cancelled', file };
  // VERIFYING right after a poll that saw it queued: it started (and is nearly done).
  if (ACTIVE_STATUSES.has(file.status) && (previous === undefined || !ACTIVE_STATUSES.has(previous.status))) {
    return { kind: 'started', file };
  }
  return undefined;
}

/** The state after a poll at `now` returned `jobs`, and the status changes it showed. */
export function observe(
  state: ProgressState,
  jobs: readonly ProgressJob[],
  now: number,
): {
  state: ProgressState;
  events: ProgressEvent[];
} {
  const before = new Map(state.files.map((f) => [f.jobId, f]));
  const seen = new Map<string, FileProgress>();
  const events: ProgressEvent[] = [];
  let moved = state.moved;
  for (const job of jobs) {
    if (seen.has(job.jobId)) continue; // a job listed twice (pages shifting under a listing) counts once
    const previous = before.get(job.jobId);
    const file = fileOf(job, previous, now);
    seen.set(job.jobId, file);
    // Rates count bytes seen moving: not a file's count when first seen, not a file found already at its target.
    if (previous && !file.alreadyPresent) moved += Math.max(0, file.bytes - previous.bytes);
    const event = eventOf(file, previous);
    if (event) events.push(event);
  }
  // Files no longer listed keep their last state (a listing never drops a request's jobs; a failed page might).
  const files = [...state.files.map((f) => seen.get(f.jobId) ?? f), ...[...seen.values()].filter((f) => !before.has(f.jobId))];
  return {
    state: {
      startedAt: state.startedAt,
      now,
      files,
      moved,
      movedSamples: trimmed([...state.movedSamples, { at: now, bytes: moved }], now),
      finished: files.length === seen.size && [...seen.values()].every((file) => isTerminal(file.status)),
    },
    events,
  };
}

export interface FileCounts {
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  active: number;
  queued: number;
}

export interface Summary {
  bytesDone: number;
  /** Undefined while a file that may still move has no known size. */
  bytesTotal?: number;
  /** 0–100; undefined without a total. */
  percent?: number;
  /** Bytes per second: over the rate window while running, the average over the watch once finished. */
  rate?: number;
  /** Undefined without a total or a rate. */
  etaMs?: number;
  files: FileCounts;
  elapsedMs: number;
}

export function percentOf(done: number, total: number | undefined): number | undefined {
  if (total === undefined) return undefined;
  if (total <= 0) return 100; // nothing to move (empty files) is all moved
  return Math.min(100, Math.max(0, (done / total) * 100));
}

export function etaOf(done: number, total: number | undefined, rate: number | undefined): number | undefined {
  if (total === undefined || rate === undefined || rate <= 0) return undefined;
  return (Math.max(0, total - done) / rate) * 1000;
}

/**
 * The request as a whole. A failed or cancelled file counts with the bytes it moved, not its size:
 * those will never come, and the request's bar reaches its end when every file has ended.
 */
export function summarize(state: ProgressState): Summary {
  const files: FileCounts = { total: state.files.length, succeeded: 0, failed: 0, cancelled: 0, active: 0, queued: 0 };
  let bytesDone = 0;
  let bytesTotal: number | undefined = 0;
  for (const file of state.files) {
    if (file.status === 'SUCCEEDED') files.succeeded++;
    else if (file.status === 'FAILED') files.failed++;
    else if (file.status === 'CANCELLED') files.cancelled++;
    else if (ACTIVE_STATUSES.has(file.status)) files.active++;
    else files.queued++;
    if (file.status === 'FAILED' || file.status === 'CANCELLED') {
      bytesDone += file.bytes;
      if (bytesTotal !== undefined) bytesTotal += file.bytes;
    } else if (file.status === 'SUCCEEDED') {
      const size = file.total ?? file.bytes;
      bytesDone += size;
      if (bytesTotal !== undefined) bytesTotal += size;
    } else {
      bytesDone += file.bytes;
      bytesTotal =
        file.total === undefined || bytesTotal === undefined ? undefined : bytesTotal + Math.max(file.total, file.bytes);
    }
  }
  const elapsedMs = Math.max(0, state.now - state.startedAt);
  const rate = state.finished ? (elapsedMs > 0 ? (state.moved / elapsedMs) * 1000 : undefined) : rateOf(state.movedSamples);
  const percent = percentOf(bytesDone, bytesTotal);
  const etaMs = state.finished ? undefined : etaOf(bytesDone, bytesTotal, rate);
  return {
    bytesDone,
    ...(bytesTotal !== undefined ? { bytesTotal } : {}),
    ...(percent !== undefined ? { percent } : {}),
    ...(rate !== undefined ? { rate } : {}),
    ...(etaMs !== undefined ? { etaMs } : {}),
    files,
    elapsedMs,
  };
}

/** Files whose bytes move now (RUNNING, VERIFYING), longest running first. */
export function activeFiles(state: ProgressState): FileProgress[] {
  return state.files.filter((f) => ACTIVE_STATUSES.has(f.status)).sort((a, b) => (a.activeSince ?? 0) - (b.activeSince ?? 0));
}
