/**
 * Where the display goes: a terminal gets a frame redrawn in place, anything else (a pipe, a file, CI)
 * gets plain lines. The renderer is this module's own rather than cli-progress: cli-progress redraws
 * on its own timer, fits a bar to the width but not a line of name + bar + figures (it cuts lines at
 * the edge), and without a TTY it either prints nothing or the whole bar set again on a schedule,
 * while a log wants one line per event. Writing the frame here keeps both modes to one model.
 */
import { columns, sanitize, wrap } from './format';
import { type LayoutMemory, layoutFrame } from './frame';
import { eventLine, stamp, summaryLine } from './lines';
import { type ProgressEvent, type ProgressState, summarize } from './model';

export type ProgressOutput = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };

export interface ProgressWriter {
  /** A poll's outcome: the status changes it showed and the state after them. */
  update(state: ProgressState, events: ProgressEvent[]): void;
  /** A remark between updates (e.g. a poll that failed). */
  note(text: string, state: ProgressState): void;
  /** The last word: the final frame left on screen, or the final summary line. */
  finish(state: ProgressState, events: ProgressEvent[]): void;
  /** No more output (listeners removed); the watch calls it however it ends. */
  close(): void;
}

const ESC = '\x1b[';
const DEFAULT_COLUMNS = 80;
const DEFAULT_MAX_FILE_BARS = 10;

export interface TtyWriterOptions {
  /** Running files shown with a bar (default 10; fewer when the terminal has fewer rows). */
  maxFileBars?: number;
}

/**
 * Redraws the frame in place: cursor up over the last frame, clear to the end of the screen, write
 * the new one (one write per frame, so it does not flicker). Columns are read again for every frame,
 * so a resized terminal gets lines fitted to its new width. Lines take one column less than the
 * terminal has: a line ending in the last column leaves some terminals waiting to wrap, and the
 * newline after it would add an empty row. Failures and notes are printed above the frame and scroll
 * away with the output; the frame stays at the bottom. A terminal that is resized (a TTY stream's
 * 'resize' event) gets the last frame again at once, fitted to its new size, not at the next poll.
 */
export function ttyWriter(out: ProgressOutput, options: TtyWriterOptions = {}): ProgressWriter {
  let drawn: string[] = [];
  let last: { width: number; layout?: LayoutMemory } | undefined;
  const terminalColumns = () => Math.max(2, Math.floor(out.columns || DEFAULT_COLUMNS));
  // The frame must fit on the screen: the cursor cannot move above the top row to redraw it.
  const maxFileBars = () => {
    const wanted = options.maxFileBars ?? DEFAULT_MAX_FILE_BARS;
    return out.rows ? Math.max(0, Math.min(wanted, Math.floor(out.rows) - 4)) : wanted;
  };
  // The rows the last frame takes now: after a terminal got narrower, its lines may have wrapped.
  const rowsOnScreen = (cols: number) => drawn.reduce((rows, line) => rows + Math.max(1, Math.ceil(columns(line) / cols)), 0);

  let shown: ProgressState | undefined;
  const draw = (state: ProgressState, above: string[]) => {
    shown = state;
    const cols = terminalColumns();
    const width = cols - 1;
    let text = '';
    const up = rowsOnScreen(cols);
    if (up > 0) text += `${ESC}${up}A\r${ESC}J`;
    for (const line of above) for (const part of wrap(line, width)) text += `${part}\n`;
    const previous = last?.width === width ? last.layout : undefined;
    const frame = layoutFrame(state, {
      width,
      maxFileBars: maxFileBars(),
      ...(previous ? { previous } : {}),
    });
    for (const line of frame.lines) text += `${line}\n`;
    out.write(text);
    drawn = frame.lines;
    last = { width, ...(frame.layout ? { layout: frame.layout } : {}) };
  };
  // Successes are counted in the frame; only what needs the reader's attention is kept above it.
  const attention = (state: ProgressState, events: ProgressEvent[]) =>
    events.filter((e) => e.kind === 'failed' || e.kind === 'cancelled').map((e) => eventLine(e, state));

  const redraw = () => {
    if (shown) draw(shown, []);
  };
  out.on('resize', redraw);
  const close = () => {
    out.off('resize', redraw);
  };

  return {
    update: (state, events) => draw(state, attention(state, events)),
    note: (text, state) => draw(state, [sanitize(text)]),
    finish: (state, events) => {
      draw(state, attention(state, events));
      close();
    },
    close,
  };
}

export interface LineWriterOptions {
  /** Least time between two summary lines while bytes move (default 5 s). */
  summaryEveryMs?: number;
}

/** One line per status change, and a summary line at most every few seconds while bytes move; no escape codes. */
export function lineWriter(out: ProgressOutput, options: LineWriterOptions = {}): ProgressWriter {
  const every = options.summaryEveryMs ?? 5000;
  let last: { at: number; moved: number } | undefined;
  const write = (lines: string[]) => {
    if (lines.length > 0) out.write(lines.map((line) => `${line}\n`).join(''));
  };
  const summary = (state: ProgressState) => {
    last = { at: state.now, moved: state.moved };
    return summaryLine(summarize(state), state);
  };
  return {
    update: (state, events) => {
      const lines = events.map((e) => eventLine(e, state));
      // The first poll says what there is to do; after that, a line only when bytes moved.
      if (!last || (state.now - last.at >= every && state.moved !== last.moved)) lines.push(summary(state));
      write(lines);
    },
    note: (text, state) => write([`${stamp(state)} ${sanitize(text)}`]),
    finish: (state, events) => write([...events.map((e) => eventLine(e, state)), summary(state)]),
    close: () => undefined,
  };
}

/** The writer for `out`: redrawn frames on a terminal, lines otherwise. */
export function writerFor(out: ProgressOutput, options: TtyWriterOptions & LineWriterOptions = {}): ProgressWriter {
  return out.isTTY ? ttyWriter(out, options) : lineWriter(out, options);
}
