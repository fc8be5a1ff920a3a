/**
 * The line-per-update form (not a TTY: a pipe, a file, CI logs): plain text, no escape sequences, no
 * fitting to a width (log lines keep whole names and messages). Each line starts with the time
 * since the watch began.
 */
import { formatBytes, formatClock, formatDuration, formatRate } from './format';
import type { ProgressEvent, ProgressState, Summary } from './model';

/** Time since the watch began, as each line's prefix: [00:05]. */
export const stamp = (state: ProgressState) => `[${formatClock(state.now - state.startedAt)}]`;

/** The line for a job's status change. */
export function eventLine(event: ProgressEvent, state: ProgressState): string {
  const at = stamp(state);
  const { file } = event;
  switch (event.kind) {
    case 'started':
      return `${at} started    ${file.name} (${formatBytes(file.total)})`;
    case 'succeeded':
      return `${at} succeeded  ${file.name} ${formatBytes(file.total ?? file.bytes)}${file.alreadyPresent ? ' (already at the target)' : ''}`;
    case 'failed':
      return `${at} FAILED     ${file.name}: ${file.error?.code ?? 'UNKNOWN'}${file.error?.message ? `: ${file.error.message}` : ''}`;
    case 'cancelled':
      return `${at} cancelled  ${file.name}`;
  }
}

/** The request's summary: bytes, %, rate, ETA, files. */
export function summaryLine(summary: Summary, state: ProgressState): string {
  const at = stamp(state);
  const f = summary.files;
  const percent = summary.percent === undefined ? '' : ` (${Math.floor(summary.percent)}%)`;
  const timing = state.finished ? `in ${formatDuration(summary.elapsedMs)}` : `ETA ${formatDuration(summary.etaMs)}`;
  const cancelled = f.cancelled > 0 ? `, ${f.cancelled} cancelled` : '';
  return (
    `${at} ${state.finished ? 'finished' : 'progress'}   ${formatBytes(summary.bytesDone)} / ${formatBytes(summary.bytesTotal)}${percent}, ` +
    `${formatRate(summary.rate)}, ${timing}; files: ${f.succeeded}/${f.total} done, ${f.failed} failed${cancelled}, ` +
    `${f.active} running, ${f.queued} queued`
  );
}
