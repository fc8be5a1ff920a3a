import type { RoundResult } from './round';

export interface DrillSummary {
  runs: number;
  killPoints: number;
  jobs: number;
  succeeded: number;
  failed: number;
  /** FAILED jobs whose re-drive SUCCEEDED (the customer's way out worked). */
  redriven: number;
  duplicates: number;
  partials: number;
  lost: number;
  stuck: number;
  tmpLeft: number;
  /** Split-brain runs: rounds in which both regions owned a partition at once. */
  splitBrainRounds?: number;
  takeoverP50Ms?: number;
  takeoverMaxMs?: number;
  /** Rounds that could not run to the end (the drill itself failed). */
  errors: string[];
  passed: boolean;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};
const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

export function summarize(rounds: RoundResult[], errors: string[]): DrillSummary {
  const jobs = rounds.flatMap((r) => r.jobs);
  const takeovers = rounds.flatMap((r) => r.takeovers);
  const summary: DrillSummary = {
    runs: rounds.length,
    killPoints: rounds.length,
    jobs: jobs.length,
    succeeded: jobs.filter((j) => j.status === 'SUCCEEDED').length,
    failed: jobs.filter((j) => j.status === 'FAILED').length,
    redriven: jobs.filter((j) => j.redrive?.status === 'SUCCEEDED').length,
    duplicates: rounds.reduce((n, r) => n + r.duplicates.length, 0),
    partials: rounds.reduce((n, r) => n + r.partials.length, 0),
    lost: rounds.reduce((n, r) => n + r.lost.length, 0),
    stuck: rounds.reduce((n, r) => n + r.stuck.length, 0),
    tmpLeft: rounds.reduce((n, r) => n + r.tmpLeft.length, 0),
    ...(rounds.some((r) => r.bothOwned !== undefined)
      ? { splitBrainRounds: rounds.filter((r) => (r.bothOwned ?? 0) > 0).length }
      : {}),
    takeoverP50Ms: takeovers.length ? percentile(takeovers, 50) : undefined,
    takeoverMaxMs: takeovers.length ? Math.max(...takeovers) : undefined,
    errors,
    passed: false,
  };
  summary.passed =
    errors.length === 0 && summary.duplicates === 0 && summary.partials === 0 && summary.lost === 0 && summary.stuck === 0;
  return summary;
}

/** The per-round table, the totals, and every problem spelled out. */
export function formatReport(rounds: RoundResult[], summary: DrillSummary): string {
  const header = [
    'round',
    'fault',
    'kill point',
    'jobs',
    'ok',
    'failed',
    're-driven',
    'both owned',
    'dup',
    'partial',
    'lost',
    'stuck',
    '.tmp left',
    'takeover',
  ];
  const rows = rounds.map((r) => [
    String(r.round),
    r.fault,
    r.killPoint,
    String(r.jobs.length),
    String(r.jobs.filter((j) => j.status === 'SUCCEEDED').length),
    String(r.jobs.filter((j) => j.status === 'FAILED').length),
    String(r.jobs.filter((j) => j.redrive?.status === 'SUCCEEDED').length),
    r.bothOwned === undefined ? '—' : String(r.bothOwned),
    String(r.duplicates.length),
    String(r.partials.length),
    String(r.lost.length),
    String(r.stuck.length),
    String(r.tmpLeft.length),
    seconds(r.takeoverMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), ''];
  out.push(
    '| runs | kill points | duplicates | partials | lost | stuck | takeover p50 | takeover max |',
    '| ---- | ----------- | ---------- | -------- | ---- | ----- | ------------ | ------------ |',
    `| ${summary.runs} | ${summary.killPoints} | ${summary.duplicates} | ${summary.partials} | ${summary.lost} | ${summary.stuck} | ${seconds(summary.takeoverP50Ms)} | ${seconds(summary.takeoverMaxMs)} |`,
    '',
    ...(summary.splitBrainRounds !== undefined
      ? [`rounds in which both regions owned a partition at once (split brain): ${summary.splitBrainRounds}`]
      : []),
    `jobs: ${summary.jobs} (${summary.succeeded} SUCCEEDED, ${summary.failed} FAILED, of which ${summary.redriven} re-driven to SUCCEEDED); .tmp files left at the partner: ${summary.tmpLeft}`,
  );
  for (const r of rounds) {
    const problems = [
      ...r.duplicates.map((d) => `duplicate: ${d}`),
      ...r.partials.map((p) => `partial: ${p}`),
      ...r.lost.map((l) => `lost: ${l}`),
      ...r.stuck.map((s) => `stuck: ${s}`),
      ...failures(r),
    ];
    for (const problem of problems) out.push(`  round ${r.round}: ${problem}`);
  }
  for (const error of summary.errors) out.push(`  error: ${error}`);
  out.push(summary.passed ? 'PASSED' : 'FAILED');
  return out.join('\n');
}

/** FAILED jobs of a round, alike ones counted together (a batch fails its files alike). */
function failures(round: RoundResult): string[] {
  const groups = new Map<string, string[]>();
  for (const job of round.jobs.filter((j) => j.status === 'FAILED')) {
    const key = `${job.flow}: ${job.errorCode} ${job.errorMessage ?? ''} → re-drive ${job.redrive?.status ?? 'none'}`;
    groups.set(key, [...(groups.get(key) ?? []), job.jobId]);
  }
  return [...groups.entries()].map(
    ([key, ids]) => `FAILED ${ids.length === 1 ? ids[0] : `${ids.length} jobs (${ids[0]}, …)`} ${key}`,
  );
}
