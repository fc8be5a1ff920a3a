/** Small helpers shared by the bench modules: sizes, statistics, bounded waiting. */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** "256MiB", "1GiB", "30GB", "1000", "4k" → bytes. Binary units for KiB/MiB/GiB and k/m/g; decimal for KB/MB/GB. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$/i.exec(text);
  if (!match) throw new Error(`not a size: ${text}`);
  const [, number, unit = '', binary, byteSuffix] = match;
  const exponent = ' kmgt'.indexOf(unit.toLowerCase() || ' ');
  // "KB"/"MB"/"GB" are decimal; "KiB", bare "k" and "M" are binary (what dd and most tools mean).
  const base = byteSuffix && !binary && unit ? 1000 : 1024;
  const bytes = Number(number) * base ** Math.max(0, exponent);
  if (!Number.isFinite(bytes) || bytes <= 0) throw new Error(`not a positive size: ${text}`);
  return Math.round(bytes);
}

export function formatBytes(bytes: number): string {
  if (bytes >= GiB && bytes % (GiB / 4) === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= KiB) return `${(bytes / KiB).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/** MB/s in decimal megabytes (10^6 bytes per second), the unit the tables use. */
export function mbps(bytes: number, ms: number): number {
  return ms > 0 ? bytes / 1e6 / (ms / 1000) : 0;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rotates `items` by `by` places: round r of A/B/C runs B/C/A, C/A/B…, so drift cancels across rounds. */
export function rotate<T>(items: readonly T[], by: number): T[] {
  const n = items.length;
  if (n === 0) return [];
  const k = ((by % n) + n) % n;
  return [...items.slice(k), ...items.slice(0, k)];
}

export function log(message: string): void {
  const time = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[bench ${time}] ${message}\n`);
}

/**
 * DynamoDB requests made between two counts of the local stand-in
 * (LocalStack.dynamoRequests), per unit of work (a file, a job), by operation
 * and table, most frequent first.
 */
export function requestsPer(
  before: Record<string, number>,
  after: Record<string, number>,
  units: number,
): { total: number; byKind: Record<string, number> } {
  const kinds = Object.keys(after)
    .map((kind) => [kind, round(((after[kind] ?? 0) - (before[kind] ?? 0)) / Math.max(1, units), 2)] as const)
    // Less than 0.005 per unit (a lease per batch, the endpoints read once) rounds away.
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return {
    total: round(
      kinds.reduce((sum, [, n]) => sum + n, 0),
      2,
    ),
    byKind: Object.fromEntries(kinds),
  };
}

/** "9.1 (UpdateItem jobs 3, PutItem audit 4)" */
export function formatRequests(requests: { total: number; byKind: Record<string, number> } | undefined): string {
  if (!requests) return '–';
  const kinds = Object.entries(requests.byKind).map(([kind, n]) => `${kind} ${n}`);
  return `${requests.total} (${kinds.join(', ')})`;
}
