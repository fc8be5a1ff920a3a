/**
 * Summaries of the measurements: medians per tool, ratios of eft to each
 * peer, the issue's targets (met or missed, by how much), as Markdown tables
 * for stdout and docs/benchmarks.md, and everything as JSON for bench/results/.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { SSH_SECURITY_POLICY_NAMES } from '../core/domain/ssh-security-policies';
import type { Negotiated, NegotiatedCiphers } from './ciphers';
import type { Measurement, Tool } from './context';
import type { Machine } from './machine';
import type { TriggerResult } from './scenario-triggers';
import { formatBytes, formatRequests, median, round } from './util';

export interface ToolSummary {
  runs: number;
  mbps: number;
  mbpsMin: number;
  mbpsMax: number;
  /** client CPU seconds per GB moved */
  cpuSPerGB: number;
  sshdCpuSPerGB?: number;
  s3CpuSPerGB?: number;
  /** CPU use while running: (client + server) CPU / wall, in cores */
  cores: number;
  /** CPU other processes on the machine used meanwhile, in cores (median; max in otherCoresMax) */
  otherCores: number;
  otherCoresMax: number;
  peakRssMiB: number;
  hwmMiB: number;
  rssDeviationPct?: number;
  rssWindowMiB?: string;
}

export interface Row {
  scenario: string;
  network: string;
  bytes: number;
  /** By label: the tool, or "eft (POLICY)" for eft's SFTP legs (one per SSH security policy run). */
  tools: Record<string, ToolSummary>;
  /** Per eft label: its MB/s ÷ each peer's. */
  ratios: Record<string, Partial<Record<Tool, number>>>;
}

/** How a measurement is labelled in the tables: its tool, and eft's SSH security policy if it ran with one. */
export function labelOf(m: Pick<Measurement, 'tool' | 'policy' | 'transport'>): string {
  if (m.policy && m.transport) return `${m.tool} (${m.policy}, ${m.transport})`;
  return m.policy ? `${m.tool} (${m.policy})` : m.tool;
}

/** The labels of eft's runs in a row ("eft", or "eft (FIPS-2024)", "eft (MODERN)"… in the policies' order). */
export function eftLabels(row: Row): string[] {
  const rank = (label: string) => SSH_SECURITY_POLICY_NAMES.findIndex((p) => label === `eft (${p})`);
  return Object.keys(row.tools)
    .filter((label) => label === 'eft' || label.startsWith('eft ('))
    .sort((a, b) => rank(a) - rank(b));
}

export interface Verdict {
  target: string;
  subject: string;
  met: boolean;
  detail: string;
}

export const LABEL: Record<string, string> = {
  'sftp-download': 'SFTP download (sshd → local disk)',
  'sftp-upload': 'SFTP upload (local disk → sshd)',
  'sftp-to-s3': 'SFTP → S3',
  's3-to-sftp': 'S3 → SFTP',
  's3-put-only': 'emulator alone: local disk → S3 (rclone)',
  's3-get-only': 'emulator alone: S3 → local disk (rclone)',
  's3-copy': 'S3 → S3 server-side copy',
};

const ORDER = Object.keys(LABEL);

export function summarize(measurements: Measurement[]): Row[] {
  const groups = new Map<string, Measurement[]>();
  for (const m of measurements) {
    if (!ORDER.includes(m.scenario)) continue;
    const key = `${m.network}|${m.scenario}|${m.bytes}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  const rows: Row[] = [];
  for (const list of groups.values()) {
    const first = list[0] as Measurement;
    const tools: Row['tools'] = {};
    for (const label of new Set(list.map(labelOf))) {
      const runs = list.filter((m) => labelOf(m) === label);
      const gb = first.bytes / 1e9;
      const perGB = (values: Array<number | undefined>) => {
        const present = values.filter((v): v is number => v !== undefined);
        return present.length > 0 ? round(median(present) / 1000 / gb, 2) : undefined;
      };
      const deviations = runs.map((m) => m.rss?.deviationPct).filter((v): v is number => v !== undefined);
      const windows = runs.map((m) => m.rss).filter((w) => w !== undefined);
      const sshd = perGB(runs.map((m) => m.sshdCpuMs));
      const s3 = perGB(runs.map((m) => m.s3CpuMs));
      tools[label] = {
        runs: runs.length,
        mbps: round(median(runs.map((m) => m.mbps)), 1),
        mbpsMin: round(Math.min(...runs.map((m) => m.mbps)), 1),
        mbpsMax: round(Math.max(...runs.map((m) => m.mbps)), 1),
        cpuSPerGB: perGB(runs.map((m) => m.cpuMs)) ?? 0,
        ...(sshd !== undefined ? { sshdCpuSPerGB: sshd } : {}),
        ...(s3 !== undefined ? { s3CpuSPerGB: s3 } : {}),
        cores: round(median(runs.map((m) => (m.cpuMs + (m.sshdCpuMs ?? 0) + (m.s3CpuMs ?? 0)) / m.wallMs)), 2),
        otherCores: round(median(runs.map((m) => (m.otherCpuMs ?? 0) / m.wallMs)), 2),
        otherCoresMax: round(Math.max(...runs.map((m) => (m.otherCpuMs ?? 0) / m.wallMs)), 2),
        peakRssMiB: round(Math.max(...runs.map((m) => m.peakRssMiB)), 1),
        hwmMiB: round(Math.max(...runs.map((m) => m.hwmMiB)), 1),
        ...(deviations.length > 0 ? { rssDeviationPct: Math.max(...deviations) } : {}),
        ...(windows.length > 0
          ? {
              rssWindowMiB: `${Math.min(...windows.map((w) => w?.minMiB ?? 0))}–${Math.max(...windows.map((w) => w?.maxMiB ?? 0))}`,
            }
          : {}),
      };
    }
    const row: Row = { scenario: first.scenario, network: first.network, bytes: first.bytes, tools, ratios: {} };
    for (const label of eftLabels(row)) {
      const eft = tools[label]?.mbps as number;
      const ratios: Partial<Record<Tool, number>> = {};
      for (const peer of ['openssh-sftp', 'rclone', 'aws-cli'] as Tool[]) {
        const p = tools[peer]?.mbps;
        if (p) ratios[peer] = round(eft / p, 2);
      }
      row.ratios[label] = ratios;
    }
    rows.push(row);
  }
  const networkRank = (n: string) => (n === 'loopback' ? 0 : 1);
  return rows.sort(
    (a, b) =>
      networkRank(a.network) - networkRank(b.network) ||
      ORDER.indexOf(a.scenario) - ORDER.indexOf(b.scenario) ||
      a.bytes - b.bytes,
  );
}

const pct = (ratio: number) => `${ratio >= 1 ? '+' : ''}${round((ratio - 1) * 100, 0)} %`;

export function verdicts(rows: Row[], measurements: Measurement[]): Verdict[] {
  const out: Verdict[] = [];
  for (const row of rows) {
    for (const label of eftLabels(row)) out.push(...rowVerdicts(row, label));
  }
  out.push(...otherVerdicts(measurements));
  return out;
}

/** The targets of one eft run (label) of a row against the peers of that row. */
function rowVerdicts(row: Row, label: string): Verdict[] {
  const out: Verdict[] = [];
  const where = `${LABEL[row.scenario]}, ${row.network}, ${formatBytes(row.bytes)}`;
  const subject = label === 'eft' ? where : `${label}: ${where}`;
  const check = (peer: Tool, want: number) => {
    const ratio = row.ratios[label]?.[peer];
    if (ratio === undefined) return;
    out.push({
      target: `≥ ${want.toFixed(1)}× ${peer}`,
      subject,
      met: ratio >= want,
      detail: `${ratio.toFixed(2)}× (${pct(ratio / want)} vs the target)`,
    });
  };
  if (row.scenario === 'sftp-download' || row.scenario === 'sftp-upload') {
    check('openssh-sftp', 1.0);
    check('rclone', 1.2);
  }
  if (row.scenario === 'sftp-to-s3' || row.scenario === 's3-to-sftp') check('rclone', 1.2);
  const eft = row.tools[label];
  if (eft && ['sftp-download', 'sftp-upload', 'sftp-to-s3', 's3-to-sftp'].includes(row.scenario)) {
    const peak = Math.max(eft.peakRssMiB, eft.hwmMiB);
    out.push({
      target: 'peak RSS ≤ 300 MiB',
      subject: `${label} ${row.scenario === 'sftp-to-s3' || row.scenario === 's3-to-sftp' ? 'worker' : 'SFTP leg'}: ${where}`,
      met: peak <= 300,
      detail: `${peak} MiB`,
    });
    if (eft.rssDeviationPct !== undefined) {
      out.push({
        target: 'RSS flat (±5 %) from 10 % to 90 %',
        subject: label === 'eft' ? `eft: ${where}` : subject,
        met: eft.rssDeviationPct <= 5,
        detail: `±${eft.rssDeviationPct} % (${eft.rssWindowMiB} MiB)`,
      });
    }
  }
  return out;
}

/** The targets that are not about a leg: small files, job creation. */
function otherVerdicts(measurements: Measurement[]): Verdict[] {
  const out: Verdict[] = [];
  const small = measurements.filter((m) => m.scenario === 'small-files');
  const smallEft = small.find((m) => m.tool === 'eft');
  const smallRclone = small.find((m) => m.tool === 'rclone');
  if (smallEft && smallRclone) {
    const ratio = smallEft.mbps / smallRclone.mbps;
    out.push({
      target: '≥ 1.0× rclone files/s',
      subject: `${smallRclone.files} small files SFTP → S3`,
      met: ratio >= 1,
      detail: `${round(smallEft.mbps, 2)} vs ${round(smallRclone.mbps, 1)} files/s = ${round(ratio, 3)}× (eft measured on ${smallEft.files} files)`,
    });
  }
  const single = measurements.find((m) => m.scenario === 'single-file')?.detail;
  if (single) {
    const seconds = single.medianSeconds as number;
    out.push({
      target: 'one small file ≤ 2 s',
      subject: '1 KiB SFTP → S3, created → SUCCEEDED',
      met: seconds <= 2,
      detail: `median ${seconds} s (${single.minSeconds}–${single.maxSeconds})`,
    });
  }
  const loads = measurements.filter((m) => m.scenario === 'job-creation' && m.detail);
  const api = loads.sort((a, b) => Number(b.detail?.clients) - Number(a.detail?.clients))[0];
  if (api?.detail) {
    const p99 = api.detail.p99Ms as number;
    out.push({
      target: 'job creation p99 ≤ 50 ms',
      subject: `${api.detail.clients} concurrent clients`,
      met: p99 <= 50,
      detail: `p99 ${p99} ms (p50 ${api.detail.p50Ms} ms, ${api.detail.jobsPerSecond} jobs/s)`,
    });
  }
  return out;
}

function negotiated(n: Negotiated | undefined): string {
  if (!n?.cipher) return '?';
  return `kex ${n.kex ?? '?'}, host key ${n.hostKey ?? '?'}, cipher ${n.cipher}${n.mac && n.mac !== '<implicit>' ? `, MAC ${n.mac}` : ''}`;
}

function cell(s?: ToolSummary): string {
  if (!s) return '–';
  return s.runs > 1 ? `${s.mbps} (${s.mbpsMin}–${s.mbpsMax})` : `${s.mbps}`;
}

export function markdown(
  rows: Row[],
  measurements: Measurement[],
  checks: Verdict[],
  context: {
    machine: Machine;
    ciphers: NegotiatedCiphers;
    rounds: number;
    notes: string[];
    skipped: string[];
    startedAt: string;
    command: string;
    triggers?: TriggerResult[];
  },
): string {
  const lines: string[] = [];
  const { machine } = context;
  lines.push(
    `Run of ${context.startedAt} (\`${context.command}\`), ${context.rounds} round(s), medians with (min–max) over the rounds.`,
  );
  lines.push('');
  lines.push(
    `Machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGiB} GiB memory, ${machine.os}, kernel ${machine.kernel}; ` +
      `Node ${machine.node}; ${machine.openssh}; ${machine.rclone}${machine.awsCli ? `; ${machine.awsCli}` : ''}; ${machine.s3rver}; ${machine.ssh2}.`,
  );
  lines.push('');
  const { ciphers } = context;
  lines.push("Negotiated with the bench's sshd (OpenSSH's default offer, ECDSA host key), as its DEBUG1 log shows:");
  lines.push('');
  lines.push(`- OpenSSH sftp: ${negotiated(ciphers['openssh-sftp'])} (cipher pinned with -c)`);
  lines.push(`- rclone: ${negotiated(ciphers.rclone)} (its default: rclone 1.60 has no cipher option)`);
  for (const [policy, n] of Object.entries(ciphers.eft ?? {})) {
    lines.push(`- eft, SSH security policy ${policy}: ${negotiated(n)}`);
  }
  lines.push('');
  lines.push('### Throughput (MB/s = 10⁶ bytes/s, whole process wall time)');
  lines.push('');
  lines.push(
    '| leg | network | size | eft run | eft | OpenSSH sftp | rclone | aws cli | eft ÷ sftp | eft ÷ rclone | eft ÷ aws |',
  );
  lines.push('| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of rows) {
    const labels = eftLabels(row);
    for (const label of labels.length > 0 ? labels : ['–']) {
      const r = row.ratios[label] ?? {};
      lines.push(
        `| ${LABEL[row.scenario]} | ${row.network} | ${formatBytes(row.bytes)} | ${label} | ${cell(row.tools[label])} | ${cell(row.tools['openssh-sftp'])} | ${cell(row.tools.rclone)} | ${cell(row.tools['aws-cli'])} | ${r['openssh-sftp'] ?? '–'} | ${r.rclone ?? '–'} | ${r['aws-cli'] ?? '–'} |`,
      );
    }
  }
  lines.push('');
  lines.push(
    `### CPU and memory (medians per run; CPU in seconds per GB moved; cores = all CPU ÷ wall time, of ${machine.nproc})`,
  );
  lines.push('');
  lines.push(
    '| leg | network | size | tool | client CPU s/GB | sshd CPU s/GB | emulator CPU s/GB | cores busy | others, cores (max) | peak RSS MiB | RSS 10–90 % |',
  );
  lines.push('| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const row of rows) {
    const labels = [...eftLabels(row), ...Object.keys(row.tools).filter((l) => !eftLabels(row).includes(l))];
    for (const tool of labels) {
      const s = row.tools[tool] as ToolSummary;
      const flat = s.rssDeviationPct !== undefined ? `±${s.rssDeviationPct} % (${s.rssWindowMiB})` : '–';
      lines.push(
        `| ${LABEL[row.scenario]} | ${row.network} | ${formatBytes(row.bytes)} | ${tool} | ${s.cpuSPerGB} | ${s.sshdCpuSPerGB ?? '–'} | ${s.s3CpuSPerGB ?? '–'} | ${s.cores} | ${s.otherCores} (${s.otherCoresMax}) | ${Math.max(s.peakRssMiB, s.hwmMiB)} | ${flat} |`,
      );
    }
  }
  const single = measurements.find((m) => m.scenario === 'single-file');
  if (single?.detail) {
    const d = single.detail;
    lines.push('');
    lines.push("### One small file SFTP → S3 (one job at a time, created → SUCCEEDED by the job's timestamps)");
    lines.push('');
    lines.push('| file | runs | median s | min s | max s | first run s (loads the handlers) |');
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: |');
    lines.push(
      `| ${formatBytes(single.bytes)} | ${single.files} | ${d.medianSeconds} | ${d.minSeconds} | ${d.maxSeconds} | ${d.firstSeconds} |`,
    );
  }
  const small = measurements.filter((m) => m.scenario === 'small-files');
  if (small.length > 0) {
    lines.push('');
    lines.push('### Small files SFTP → S3');
    lines.push('');
    lines.push('| tool | files moved | of | seconds | files/s | how | CPU |');
    lines.push('| --- | ---: | ---: | ---: | ---: | --- | --- |');
    for (const m of small) {
      const d = m.detail ?? {};
      const how =
        m.tool === 'eft'
          ? `one POST /transfers of the folder (answered in ${d.postSeconds} s), batched into worker tasks of ≤ 2,500 files; ${d.failed} failed`
          : `rclone copy --transfers ${d.transfers}`;
      const cpu =
        m.tool === 'eft'
          ? `engine ${d.engineCpuMsPerFile} ms/file; DynamoDB requests per file: ${formatRequests(d.dynamoRequestsPerFile as Parameters<typeof formatRequests>[0])}`
          : `client ${round(m.cpuMs / (m.files ?? 1), 1)} ms/file, sshd ${round((m.sshdCpuMs ?? 0) / (m.files ?? 1), 1)}, emulator ${round((m.s3CpuMs ?? 0) / (m.files ?? 1), 1)}`;
      lines.push(
        `| ${m.tool} | ${m.files} | ${d.ofFiles ?? m.files} | ${round(m.wallMs / 1000, 1)} | ${m.detail?.filesPerSecond} | ${how} | ${cpu} |`,
      );
    }
  }
  const loads = measurements.filter((m) => m.scenario === 'job-creation' && m.detail);
  if (loads.length > 0) {
    lines.push('');
    lines.push('### Job creation (POST /transfers, local engine, one new job per request)');
    lines.push('');
    lines.push(
      '| clients | requests | created | jobs/s | p50 ms | p90 ms | p99 ms | max ms | CPU ms per job: region (API + Step Functions) / dynalite / S3 emulator | DynamoDB requests per job | others, cores |',
    );
    lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |');
    for (const m of loads) {
      const d = m.detail as Record<string, unknown>;
      const cpu = d.cpuMsPerJob as Record<string, number> | undefined;
      lines.push(
        `| ${d.clients} | ${d.requests} | ${d.created} | ${d.jobsPerSecond} | ${d.p50Ms} | ${d.p90Ms} | ${d.p99Ms} | ${d.maxMs} | ${cpu ? `${cpu.regionProcess}${cpu.apiProcess !== undefined ? ` (${cpu.apiProcess} + ${cpu.stepFunctionsProcess})` : ''} / ${cpu.dynaliteAndBench} / ${cpu.s3Emulator}` : '–'} | ${formatRequests(d.dynamoRequestsPerJob as Parameters<typeof formatRequests>[0])} | ${d.otherCores ?? '–'} |`,
      );
    }
  }
  if (context.triggers && context.triggers.length > 0) lines.push('', ...triggerTables(context.triggers));
  lines.push('');
  lines.push('### Targets');
  lines.push('');
  lines.push('| target | what | result | met |');
  lines.push('| --- | --- | --- | --- |');
  for (const v of checks) lines.push(`| ${v.target} | ${v.subject} | ${v.detail} | ${v.met ? 'yes' : '**no**'} |`);
  if (context.notes.length > 0 || context.skipped.length > 0) {
    lines.push('');
    lines.push('### Notes of this run');
    lines.push('');
    for (const s of context.skipped) lines.push(`- Skipped: ${s}`);
    for (const n of new Set(context.notes)) lines.push(`- ${n}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Route and schedule latency (bench/scenario-triggers.ts): ready → SUCCEEDED and its parts, in ms. */
export function triggerTables(results: TriggerResult[]): string[] {
  const lines = ['### Triggers: ready → job SUCCEEDED (local engine, 1 KiB, ms)', ''];
  lines.push('| trigger | target | pace | SUCCEEDED | engine CPU ms each / others, cores | part | p50 | p95 | p99 | max |');
  lines.push('| --- | --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const what = `${r.kind} (${r.variant})`;
    const rows: Array<[string, TriggerResult['total']]> = [['**total**', r.total], ...Object.entries(r.parts)];
    for (const [i, [part, p]] of rows.entries()) {
      lines.push(
        i === 0
          ? `| ${what} | ${r.target} | ${r.pace} | ${r.succeeded}/${r.count} (${r.leaseWaits} lease waits) | ${r.engineCpuMsPerItem} / ${r.otherCores} | ${part} | ${p.p50} | ${p.p95} | ${p.p99} | ${p.max} |`
          : `| | | | | | ${part} | ${p.p50} | ${p.p95} | ${p.p99} | ${p.max} |`,
      );
    }
  }
  return lines;
}

export const DOCS_START = '<!-- bench:results:start (written by npm run bench; edit outside these markers) -->';
export const DOCS_END = '<!-- bench:results:end -->';

/** Replaces the results block of docs/benchmarks.md (the rest of the page is hand-written). */
export function writeDocs(path: string, results: string): void {
  const block = `${DOCS_START}\n\n${results}\n${DOCS_END}`;
  if (!existsSync(path)) {
    writeFileSync(path, `# Benchmarks\n\n## Latest results\n\n${block}\n`);
    return;
  }
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf(DOCS_START);
  const end = text.indexOf(DOCS_END);
  const updated =
    start >= 0 && end > start
      ? `${text.slice(0, start)}${block}${text.slice(end + DOCS_END.length)}`
      : `${text.trimEnd()}\n\n## Latest results\n\n${block}\n`;
  writeFileSync(path, updated);
}
