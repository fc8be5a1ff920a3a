/**
 * The TTY frame: state + width → lines, each at most `width` columns. One bar for the request, a line
 * of file counts, one bar per running file (at most `maxFileBars`, then "… and K more running").
 *
 * Where the width allows, every bar row shares one layout (name column, bar, figures), so the bars
 * line up. Where it does not, each row takes the first of its variants that fits, richest first
 * (name, bar, bytes/total, %, rate, ETA → without the bar → % and rate → %): a narrow terminal loses
 * the bar before the figures, and the figures before the name. A last resort cuts the line.
 */
import { columns, formatBytes, formatDuration, formatRate, padEnd, truncateEnd, truncateStart } from './format';
import { activeFiles, etaOf, type FileProgress, type ProgressState, percentOf, rateOf, STALL_MS, summarize } from './model';

export interface FrameOptions {
  /** Columns each line may take. */
  width: number;
  /** Running files shown with a bar; the rest are counted. */
  maxFileBars: number;
}

const TOTAL_LABEL = 'Total';
const MIN_BAR = 12; // brackets included: a shorter bar says nothing
const MAX_BAR = 32;
const MIN_LABEL = 12; // enough for "…" and a short file name
const LABEL_SHARE = 0.4; // names take at most this share of the width

/** A row with a bar: its label and its figures, from the most to the least said. */
interface BarRow {
  label: string;
  /** Undefined when there is no total to measure against (no bar then). */
  fraction?: number;
  full: string;
  compact: string;
  tiny: string;
}

function bar(fraction: number, width: number): string {
  const inner = Math.max(0, width - 2);
  const filled = Math.min(inner, Math.max(0, Math.floor(fraction * inner)));
  const head = filled < inner && filled > 0 ? '>' : '';
  return `[${'='.repeat(filled - (head ? 1 : 0))}${head}${'-'.repeat(inner - filled)}]`;
}

function requestRow(state: ProgressState): BarRow {
  const s = summarize(state);
  const percent = s.percent === undefined ? undefined : `${Math.floor(s.percent)}%`;
  const eta = state.finished ? undefined : `ETA ${formatDuration(s.etaMs)}`;
  const rate = formatRate(s.rate);
  return {
    label: TOTAL_LABEL,
    ...(s.percent !== undefined ? { fraction: s.percent / 100 } : {}),
    full: [`${formatBytes(s.bytesDone)} / ${formatBytes(s.bytesTotal)}`, percent, rate, eta].filter(Boolean).join('  '),
    compact: [percent ?? formatBytes(s.bytesDone), rate, eta].filter(Boolean).join(' '),
    tiny: percent ?? formatBytes(s.bytesDone),
  };
}

function fileRow(file: FileProgress, now: number): BarRow {
  const percentValue = percentOf(file.bytes, file.total);
  const percent = percentValue === undefined ? undefined : `${Math.floor(percentValue)}%`;
  const quietFor = now - file.movedAt;
  let state: string;
  let short: string;
  if (file.status === 'VERIFYING') {
    state = short = 'verifying';
  } else if (file.bytes === 0 && quietFor < STALL_MS) {
    // The worker's first progress write comes one interval after it starts: until then, nothing to say.
    state = short = 'starting';
  } else if (quietFor >= STALL_MS) {
    state = `no progress for ${formatDuration(quietFor)}`;
    short = `quiet ${formatDuration(quietFor)}`;
  } else {
    const rate = rateOf(file.samples);
    state = `${formatRate(rate)}  ETA ${formatDuration(etaOf(file.bytes, file.total, rate))}`;
    short = formatRate(rate);
  }
  const fraction = file.status === 'VERIFYING' ? 1 : percentValue === undefined ? undefined : percentValue / 100;
  return {
    label: file.name,
    ...(fraction !== undefined ? { fraction } : {}),
    full: [`${formatBytes(file.bytes)} / ${formatBytes(file.total)}`, percent, state].filter(Boolean).join('  '),
    compact: [percent, short].filter(Boolean).join(' '),
    tiny: percent ?? short,
  };
}

interface Layout {
  label: number;
  bar: number;
}

/** One layout for all rows (label column, bar) with every row's full figures, if the width allows it. */
function sharedLayout(rows: BarRow[], width: number): Layout | undefined {
  const labelColumn = Math.min(Math.floor(width * LABEL_SHARE), Math.max(...rows.map((r) => columns(r.label))));
  const available = width - Math.max(...rows.map((r) => columns(r.full))) - 1;
  const barWidth = Math.min(MAX_BAR, Math.max(MIN_BAR, available - labelColumn - 1));
  const label = Math.min(labelColumn, available - barWidth - 1);
  return label >= Math.min(MIN_LABEL, labelColumn) ? { label, bar: barWidth } : undefined;
}

function labelled(label: string, width: number, rest: string[]): string {
  return [padEnd(truncateStart(label, width), width), ...rest].join(' ');
}

/** The first variant of `row` that fits `width`, else its shortest cut to the width. */
function fittedRow(row: BarRow, width: number, labelColumn: number): string {
  const variants: string[] = [];
  for (const figures of [row.full, row.compact, row.tiny]) {
    const available = width - columns(figures) - 1;
    const label = Math.min(labelColumn, available);
    if (row.fraction !== undefined && available - MIN_BAR - 1 >= Math.min(MIN_LABEL, columns(row.label))) {
      const barWidth = Math.min(MAX_BAR, Math.max(MIN_BAR, available - labelColumn - 1));
      variants.push(labelled(row.label, Math.min(labelColumn, available - barWidth - 1), [bar(row.fraction, barWidth), figures]));
    }
    if (label >= Math.min(MIN_LABEL, columns(row.label))) variants.push(labelled(row.label, label, [figures]));
  }
  const fitting = variants.find((v) => columns(v) <= width);
  return fitting ?? truncateEnd(`${truncateStart(row.label, MIN_LABEL)} ${row.tiny}`, width);
}

function filesLine(state: ProgressState, width: number): string {
  const { files: f, elapsedMs } = summarize(state);
  const elapsed = formatDuration(elapsedMs);
  const cancelled = f.cancelled > 0 ? `, ${f.cancelled} cancelled` : '';
  const counts = `${f.succeeded}/${f.total} done, ${f.failed} failed${cancelled}, ${f.active} running, ${f.queued} queued`;
  const variants = [
    `Files: ${counts} · elapsed ${elapsed}`,
    `Files: ${counts}`,
    `${f.succeeded}/${f.total} done ${f.failed} failed${f.cancelled > 0 ? ` ${f.cancelled} cancelled` : ''} ${f.active} run ${f.queued} queued ${elapsed}`,
    `${f.succeeded}/${f.total} ok ${f.failed + f.cancelled} err ${f.active} run ${f.queued} q`,
  ];
  return variants.find((v) => columns(v) <= width) ?? truncateEnd(variants[variants.length - 1] ?? '', width);
}

/** The frame for `state`, every line at most `width` columns. */
export function renderFrame(state: ProgressState, options: FrameOptions): string[] {
  const width = Math.max(1, Math.floor(options.width));
  const active = state.finished ? [] : activeFiles(state);
  const shown = active.slice(0, Math.max(0, options.maxFileBars));
  const rows = [requestRow(state), ...shown.map((file) => fileRow(file, state.now))];
  const layout = sharedLayout(rows, width);
  const barLines = rows.map((row) => {
    if (!layout) return fittedRow(row, width, Math.min(Math.floor(width * LABEL_SHARE), columns(row.label)));
    // A row without a total keeps the bar's place empty, so the figures stay in their column.
    const barText = row.fraction === undefined ? ' '.repeat(layout.bar) : bar(row.fraction, layout.bar);
    return labelled(row.label, layout.label, [barText, row.full]);
  });
  const [requestLine = '', ...fileLines] = barLines;
  const lines = [requestLine, filesLine(state, width), ...fileLines];
  if (active.length > shown.length) lines.push(`… and ${active.length - shown.length} more running`);
  return lines.map((line) => truncateEnd(line, width));
}
