/**
 * Sizes, rates, durations and terminal text: every figure the display prints goes through here, so
 * unknown or degenerate values (no total yet, no rate yet, zero-byte files) print as `?` or `-`,
 * never as NaN or Infinity.
 */

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** 512 B, 1.5 KiB, 12.3 MiB: binary units, one decimal; `?` for what is not a size. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes / 1024;
  let unit = 0;
  // 1023.96 KiB would print as "1024.0 KiB": round first, then pick the unit.
  while (Math.round(value * 10) / 10 >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** 4.1 MiB/s; `-` while no rate is known. */
export function formatRate(bytesPerSecond: number | undefined): string {
  if (bytesPerSecond === undefined || !Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return '-';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** 7s, 1m05s, 2h03m, 3d04h; `-` when unknown. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const two = (n: number) => String(n).padStart(2, '0');
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${two(seconds % 60)}s`;
  const hours = Math.floor(seconds / 3600);
  if (hours < 100) return `${hours}h${two(Math.floor((seconds % 3600) / 60))}m`;
  return `${Math.floor(hours / 24)}d${two(hours % 24)}h`;
}

/** Elapsed time as a log-line stamp: 00:05, 12:34, 1:02:03. */
export function formatClock(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const two = (n: number) => String(n).padStart(2, '0');
  const hours = Math.floor(seconds / 3600);
  const rest = `${two(Math.floor((seconds % 3600) / 60))}:${two(seconds % 60)}`;
  return hours > 0 ? `${hours}:${rest}` : rest;
}

/**
 * File names and error messages come from partners' servers: a name holding an escape sequence
 * could move the cursor or recolour the terminal, and bidirectional overrides reorder what is shown.
 * Control characters (C0, DEL, C1) and bidi controls print as `?`.
 */
export function sanitize(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?');
}

/** Code points a terminal draws two columns wide (East Asian wide and fullwidth forms, emoji). */
function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf && code !== 0x303f) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1f64f) ||
    (code >= 0x1f900 && code <= 0x1f9ff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  );
}

const COMBINING = /^\p{M}$/u;

function charColumns(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  // Combining marks, zero-width spaces and joiners, variation selectors: drawn on the previous character.
  if (COMBINING.test(char) || (code >= 0x200b && code <= 0x200d) || (code >= 0xfe00 && code <= 0xfe0f)) return 0;
  return isWide(code) ? 2 : 1;
}

/** Columns `text` takes on a terminal (no escape sequences expected: the renderer emits none). */
export function columns(text: string): number {
  let total = 0;
  for (const char of text) total += charColumns(char);
  return total;
}

/** `text` cut to `width` columns, keeping its end (a path's file name), with a leading ellipsis. */
export function truncateStart(text: string, width: number): string {
  if (columns(text) <= width) return text;
  if (width <= 0) return '';
  const chars = [...text];
  let kept = '';
  let used = 1;
  for (let i = chars.length - 1; i >= 0; i--) {
    const char = chars[i] as string;
    if (used + charColumns(char) > width) break;
    kept = char + kept;
    used += charColumns(char);
  }
  return `…${kept}`;
}

/** `text` cut to `width` columns, keeping its start, with a trailing ellipsis. */
export function truncateEnd(text: string, width: number): string {
  if (columns(text) <= width) return text;
  if (width <= 0) return '';
  let kept = '';
  let used = 1;
  for (const char of text) {
    if (used + charColumns(char) > width) break;
    kept += char;
    used += charColumns(char);
  }
  return `${kept}…`;
}

/** `text` padded with spaces to `width` columns. */
export function padEnd(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - columns(text)));
}

/** `text` broken into lines of at most `width` columns (at spaces where it can), for lines that must not be cut. */
export function wrap(text: string, width: number): string[] {
  if (width <= 0) return [text];
  const lines: string[] = [];
  let rest = text;
  while (columns(rest) > width) {
    let head = '';
    let used = 0;
    for (const char of rest) {
      if (used + charColumns(char) > width) break;
      head += char;
      used += charColumns(char);
    }
    const space = head.lastIndexOf(' ');
    if (space > width / 3) head = head.slice(0, space);
    lines.push(head.trimEnd());
    rest = rest.slice(head.length).trimStart();
  }
  if (rest.length > 0 || lines.length === 0) lines.push(rest);
  return lines;
}
