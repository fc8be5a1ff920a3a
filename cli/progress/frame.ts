/**
 * The TTY frame: state + width → lines, each at most `width` columns. One bar for the request, a line
 * of file counts, one bar per running file (at most `maxFileBars`, then "… and K more running").
 *
 * Every bar row shares one layout (name column, bar, figures), so the bars and figures line up: the
 * richest that fits the width, from name + bar + bytes/total, %, rate, ETA → without the bar → % and
 * rate with the bar → … → %: a narrow terminal loses the bar before the figures, and the figures
 * before the name. A last resort cuts the line.
 */
import { columns, formatBytes, formatDuration, formatRate, padEnd, truncateEnd, truncateStart } from './format';
import { activeFiles, etaOf, type FileProgress, type ProgressState, percentOf, rateOf, STALL_MS, summarize } from './model';

export interface FrameOptions {
  /** Columns each line may take. */
  width: number;
  /** Running files shown with a bar; the rest are counted. */
  maxFileBars: number;
  /** The previous frame's layout at this width (layoutFrame), so that the layout holds still. */
  previous?: LayoutMemory;
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

type Level = 'full' | 'compact' | 'tiny';

/** Layouts from the richest to the poorest: full figures with bars, full figures alone, compact figures with bars, … */
const RANKS: ReadonlyArray<{ level: Level; bars: boolean }> = [
  { level: 'full', bars: true },
  { level: 'full', bars: false },
  { level: 'compact', bars: true },
  { level: 'compact', bars: false },
  { level: 'tiny', bars: true },
  { level: 'tiny', bars: false },
];

/** Columns a richer layout must have to spare before a frame switches to it (see chooseLayout). */
const UPGRADE_SLACK = 8;

interface Layout {
  /** Index in RANKS. */
  rank: number;
  level: Level;
  label: number;
  /** 0: no bars. */
  bar: number;
  /** Columns kept for the figures: at least the widest row's. */
  figures: number;
}

/** What a frame passes on to the next at the same width, so that its layout holds still (see chooseLayout). */
export interface LayoutMemory {
  rank: number;
  figures: number;
}

/**
 * The layout of `rank` for these rows, if they fit it at `width` with a label of MIN_LABEL columns,
 * keeping at least `minFigures` columns for the figures.
 */
function layoutAt(rows: BarRow[], width: number, rank: number, minFigures = 0): Layout | undefined {
  const ranked = RANKS[rank];
  if (!ranked) return undefined;
  const { level, bars } = ranked;
  const labelColumn = Math.min(Math.floor(width * LABEL_SHARE), Math.max(...rows.map((r) => columns(r.label))));
  const minLabel = Math.min(MIN_LABEL, labelColumn);
  const figures = Math.max(minFigures, ...rows.map((r) => columns(r[level])));
  const available = width - figures - 1;
  if (!bars) {
    return available >= minLabel ? { rank, level, label: Math.min(labelColumn, available), bar: 0, figures } : undefined;
  }
  if (!rows.some((r) => r.fraction !== undefined)) return undefined;
  const bar = Math.min(MAX_BAR, Math.max(MIN_BAR, available - labelColumn - 1));
  const label = Math.min(labelColumn, available - bar - 1);
  return label >= minLabel ? { rank, level, label, bar, figures } : undefined;
}

function richestLayout(rows: BarRow[], width: number): Layout | undefined {
  for (let rank = 0; rank < RANKS.length; rank++) {
    const layout = layoutAt(rows, width, rank);
    if (layout) return layout;
  }
  return undefined;
}

/**
 * One layout for every row (figures' level, label column, bar), so bars and figures line up. The
 * richest that fits, with hysteresis: figures change length from frame to frame ("-" becomes
 * "512.0 KiB/s"), and a frame at the edge would otherwise flip between two layouts every poll, or
 * move its bars by a column or two. A poorer layout is taken as soon as the richer one no longer
 * fits; a richer one than the last frame's only when it fits with UPGRADE_SLACK columns to spare.
 * Within one layout the figures keep the widest room they had, so names and bars hold still.
 */
function chooseLayout(rows: BarRow[], width: number, previous?: LayoutMemory): Layout | undefined {
  const best = richestLayout(rows, width);
  if (previous === undefined || !best || best.rank > previous.rank) return best;
  const roomy = best.rank < previous.rank ? richestLayout(rows, width - UPGRADE_SLACK) : undefined;
  if (roomy && roomy.rank < previous.rank) return layoutAt(rows, width, roomy.rank) ?? best;
  return layoutAt(rows, width, previous.rank, previous.figures) ?? layoutAt(rows, width, previous.rank) ?? best;
}

function labelled(label: string, width: number, rest: string[]): string {
  return [padEnd(truncateStart(label, width), width), ...rest].join(' ');
}

function rowLine(row: BarRow, layout: Layout): string {
  if (layout.bar === 0) return labelled(row.label, layout.label, [row[layout.level]]);
  // A row without a total keeps the bar's place empty, so the figures stay in their column.
  const barText = row.fraction === undefined ? ' '.repeat(layout.bar) : bar(row.fraction, layout.bar);
  return labelled(row.label, layout.label, [barText, row[layout.level]]);
}

function filesLine(state: ProgressState, width: number): string {
  const { files: f, elapsedMs } = summarize(state);
  const elapsed = formatDuration(elapsedMs);
  const cancelled = f.cancelled > 0 ? `, ${f.cancelled} cancelled` : '';
  const counts = `${f.succeeded}/${f.total} done, ${f.failed} failed${cancelled}, ${f.active} running, ${f.queued} queued`;
  const variants = [
    `Files: ${counts} · elapsed ${elapsed}`,
    `Files: ${counts} · ${elapsed}`,
    `Files: ${counts}`,
    `${f.succeeded}/${f.total} done ${f.failed} failed${f.cancelled > 0 ? ` ${f.cancelled} cancelled` : ''} ${f.active} run ${f.queued} queued ${elapsed}`,
    `${f.succeeded}/${f.total} ok ${f.failed + f.cancelled} err ${f.active} run ${f.queued} q`,
  ];
  return variants.find((v) => columns(v) <= width) ?? truncateEnd(variants[variants.length - 1] ?? '', width);
}

/** The frame for `state`, every line at most `width` columns, and the layout it took. */
export function layoutFrame(state: ProgressState, options: FrameOptions): { lines: string[]; layout?: LayoutMemory } {
  const width = Math.max(1, Math.floor(options.width));
  const active = state.finished ? [] : activeFiles(state);
  const shown = active.slice(0, Math.max(0, options.maxFileBars));
  const rows = [requestRow(state), ...shown.map((file) => fileRow(file, state.now))];
  // The final frame is not followed by another that could flip: it takes the richest layout.
  const layout = chooseLayout(rows, width, state.finished ? undefined : options.previous);
  // Too narrow for any layout: each row cut to the width, the label's end and the shortest figures.
  const barLines = rows.map((row) =>
    layout ? rowLine(row, layout) : truncateEnd(`${truncateStart(row.label, MIN_LABEL)} ${row.tiny}`, width),
  );
  const [requestLine = '', ...fileLines] = barLines;
  const lines = [requestLine, filesLine(state, width), ...fileLines];
  if (active.length > shown.length) lines.push(`… and ${active.length - shown.length} more running`);
  return {
    lines: lines.map((line) => truncateEnd(line, width)),
    ...(layout ? { layout: { rank: layout.rank, figures: layout.figures } } : {}),
  };
}

/** The frame for `state`, every line at most `width` columns. */
export function renderFrame(state: ProgressState, options: FrameOptions): string[] {
  return layoutFrame(state, options).lines;
}
