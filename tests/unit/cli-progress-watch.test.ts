import { Writable } from 'node:stream';
import { columns } from '../../cli/progress/format';
import { type ProgressJob, watchJobs } from '../../cli/progress/watch';

const MiB = 1024 * 1024;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding escape sequences is the point
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** A stream that keeps what is written; a terminal when given columns. */
class Capture extends Writable {
  readonly chunks: string[] = [];
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  constructor(terminal?: { columns: number; rows?: number }) {
    super();
    if (terminal) {
      this.isTTY = true;
      this.columns = terminal.columns;
      this.rows = terminal.rows;
    }
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void) {
    this.chunks.push(chunk.toString());
    done();
  }
  get text() {
    return this.chunks.join('');
  }
  /** The lines as a terminal shows them once written (escape sequences and carriage returns removed). */
  visibleLines(from = 0) {
    return this.chunks.slice(from).join('').replace(ANSI, '').replace(/\r/g, '').split('\n').filter(Boolean);
  }
}

function job(jobId: string, status: string, bytesTransferred: number, bytesTotal: number, extra: Partial<ProgressJob> = {}) {
  return {
    jobId,
    status,
    source: { path: `daily/${jobId}.csv` },
    target: { path: `in/${jobId}.csv` },
    bytesTransferred,
    bytesTotal,
    ...extra,
  };
}

/** A scripted request: each poll returns the next list (the last one again after that); polls are 1 s apart. */
function scripted(polls: Array<ProgressJob[] | Error>) {
  let clock = 0;
  let calls = 0;
  return {
    now: () => clock,
    get calls() {
      return calls;
    },
    fetchJobs: async () => {
      const next = polls[Math.min(calls, polls.length - 1)] as ProgressJob[] | Error;
      clock = calls * 1000;
      calls++;
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

/** a: 10 MiB moving 1 MiB a second; b: fails; c: small, done between two polls. */
function request(): ProgressJob[][] {
  const polls: ProgressJob[][] = [];
  for (let i = 0; i <= 10; i++) {
    polls.push([
      job('a', i === 10 ? 'SUCCEEDED' : i === 0 ? 'QUEUED' : 'RUNNING', i * MiB, 10 * MiB),
      i < 3
        ? job('b', i === 0 ? 'QUEUED' : 'RUNNING', 0, 2 * MiB)
        : job('b', 'FAILED', 0, 2 * MiB, { error: { code: 'HOST_KEY_MISMATCH', message: 'the partner offered another key' } }),
      job('c', i < 2 ? 'QUEUED' : 'SUCCEEDED', i < 2 ? 0 : 300, 300),
    ]);
  }
  return polls;
}

describe('not a terminal: one line per update', () => {
  test('a line per status change, summaries at most every few seconds, no escape codes at all', async () => {
    const out = new Capture();
    const script = scripted(request());
    const final = await watchJobs({ ...script, out, intervalMs: 0, summaryEveryMs: 3000 });
    expect(final.map((j) => j.status)).toEqual(['SUCCEEDED', 'FAILED', 'SUCCEEDED']);
    expect(out.text).not.toContain('\x1b');
    const lines = out.text.trimEnd().split('\n');
    expect(lines.filter((l) => !l.includes(' progress '))).toEqual([
      '[00:01] started    daily/a.csv (10.0 MiB)',
      '[00:01] started    daily/b.csv (2.0 MiB)',
      '[00:02] succeeded  daily/c.csv 300 B',
      '[00:03] FAILED     daily/b.csv: HOST_KEY_MISMATCH: the partner offered another key',
      '[00:10] succeeded  daily/a.csv 10.0 MiB',
      '[00:10] finished   10.0 MiB / 10.0 MiB (100%), 1.0 MiB/s, in 10s; files: 2/3 done, 1 failed, 0 running, 0 queued',
    ]);
    const progress = lines.filter((l) => l.includes(' progress '));
    expect(progress[0]).toBe('[00:00] progress   0 B / 12.0 MiB (0%), -, ETA -; files: 0/3 done, 0 failed, 0 running, 3 queued');
    const stamps = progress.map((l) => Number(l.slice(4, 6)));
    for (let i = 1; i < stamps.length; i++) expect((stamps[i] ?? 0) - (stamps[i - 1] ?? 0)).toBeGreaterThanOrEqual(3);
    expect(progress).toContain(
      '[00:03] progress   3.0 MiB / 10.0 MiB (30%), 1.0 MiB/s, ETA 7s; files: 1/3 done, 1 failed, 1 running, 0 queued',
    );
  });
});

describe('a terminal: one frame redrawn in place', () => {
  test('every frame after the first moves the cursor over the last one; each line fits the columns; the last frame stays', async () => {
    const out = new Capture({ columns: 60 });
    await watchJobs({ ...scripted(request()), out, intervalMs: 0 });
    const [first = '', ...rest] = out.chunks;
    expect(first).not.toMatch(ANSI);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape sequence is what is checked
    for (const chunk of rest) expect(chunk).toMatch(/^\x1b\[\d+A\r\x1b\[J/);
    for (const line of out.visibleLines()) expect(columns(line)).toBeLessThanOrEqual(59);
    // The failure stays above the frame, wrapped to the width; successes are counted in the frame.
    const shown = out.visibleLines().join(' ');
    expect(shown).toContain('FAILED     daily/b.csv: HOST_KEY_MISMATCH: the partner offered another key');
    expect(out.text).not.toContain('succeeded  daily/a.csv');
    const last = out.chunks[out.chunks.length - 1] ?? '';
    expect(last.replace(ANSI, '').replace('\r', '').trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^Total +\[=+\] 10\.0 MiB \/ 10\.0 MiB {2}100% {2}1\.0 MiB\/s$/),
      'Files: 2/3 done, 1 failed, 0 running, 0 queued · 10s',
    ]);
  });

  test('a terminal made narrower between frames: the old frame is erased by its wrapped rows, the new one fits', async () => {
    const out = new Capture({ columns: 100 });
    const script = scripted(request());
    const fetchJobs = async () => {
      const jobs = await script.fetchJobs();
      if (script.calls === 3) out.columns = 30;
      return jobs;
    };
    await watchJobs({ fetchJobs, now: script.now, out, intervalMs: 0 });
    // Frame 2 was drawn at 100 columns (lines up to 99); frame 3 must move up by the rows those take at 30 columns.
    const frame2 = (out.chunks[1] ?? '').replace(ANSI, '').replace('\r', '').trimEnd().split('\n');
    const rowsAt30 = frame2.reduce((rows, line) => rows + Math.max(1, Math.ceil(columns(line) / 30)), 0);
    expect(out.chunks[2]).toMatch(new RegExp(`^\\x1b\\[${rowsAt30}A`));
    for (const line of out.visibleLines(2)) expect(columns(line)).toBeLessThanOrEqual(29);
  });

  test('a resized terminal gets the last frame again at once, fitted to its new width', async () => {
    const out = new Capture({ columns: 100 });
    const script = scripted(request());
    let chunksBeforeResize = 0;
    const fetchJobs = async () => {
      if (script.calls === 3) {
        chunksBeforeResize = out.chunks.length;
        out.columns = 30;
        out.emit('resize');
      }
      return script.fetchJobs();
    };
    await watchJobs({ fetchJobs, now: script.now, out, intervalMs: 0 });
    // The redraw came from the resize, before the poll that followed it.
    const redrawn = out.chunks[chunksBeforeResize] ?? '';
    expect(redrawn.startsWith('\x1b[')).toBe(true);
    for (const line of redrawn.replace(ANSI, '').replace(/\r/g, '').split('\n')) expect(columns(line)).toBeLessThanOrEqual(29);
    expect(out.listenerCount('resize')).toBe(0);
  });

  test('a short terminal gets fewer file bars, so the frame never scrolls out of reach', async () => {
    const jobs = Array.from({ length: 30 }, (_, i) => job(`f${i}`, 'RUNNING', 0, MiB));
    const out = new Capture({ columns: 80, rows: 10 });
    const script = scripted([jobs, jobs.map((j) => ({ ...j, status: 'SUCCEEDED', bytesTransferred: MiB }))]);
    await watchJobs({ ...script, out, intervalMs: 0 });
    const frame = out.visibleLines().slice(0, 9);
    expect(frame.filter((l) => /^daily\/f\d+/.test(l))).toHaveLength(6);
    expect(frame[8]).toBe('… and 24 more running');
  });
});

describe('the poll loop', () => {
  test('one failed poll is noted and the watch goes on to the end', async () => {
    const polls: Array<ProgressJob[] | Error> = [
      [job('a', 'RUNNING', 0, 10)],
      new Error('503 Service Unavailable'),
      [job('a', 'SUCCEEDED', 10, 10)],
    ];
    const out = new Capture();
    const final = await watchJobs({ ...scripted(polls), out, intervalMs: 0 });
    expect(final).toEqual([job('a', 'SUCCEEDED', 10, 10)]);
    expect(out.text).toContain('could not get the jobs (503 Service Unavailable); trying again');
    expect(out.text).toContain('succeeded  daily/a.csv 10 B');
  });

  test('after several failed polls in a row it gives up with the last error', async () => {
    const error = new Error('getaddrinfo ENOTFOUND api');
    const script = scripted([[job('a', 'RUNNING', 0, 10)], error]);
    const out = new Capture();
    await expect(watchJobs({ ...script, out, intervalMs: 0, maxFailedPolls: 3 })).rejects.toBe(error);
    expect(script.calls).toBe(4);
    expect(out.text).toContain('giving up: 3 polls in a row failed, the last with: getaddrinfo ENOTFOUND api');
  });

  test('aborting stops the polls and rejects with the reason; the jobs go on', async () => {
    const controller = new AbortController();
    const script = scripted([[job('a', 'RUNNING', 0, 10)]]);
    const reason = new Error('interrupted');
    const fetchJobs = async () => {
      const jobs = await script.fetchJobs();
      if (script.calls === 2) controller.abort(reason);
      return jobs;
    };
    const out = new Capture();
    await expect(watchJobs({ fetchJobs, now: script.now, out, intervalMs: 0, signal: controller.signal })).rejects.toBe(reason);
    expect(script.calls).toBe(2);
    expect(out.text.trimEnd().split('\n').pop()).toMatch(/progress .*1 running/);
  });

  test('aborting while a poll hangs stops the watch at once', async () => {
    const controller = new AbortController();
    const script = scripted([[job('a', 'RUNNING', 0, 10)]]);
    let polls = 0;
    const fetchJobs = async () => {
      polls++;
      if (polls === 1) return script.fetchJobs();
      controller.abort(new Error('interrupted'));
      return new Promise<ProgressJob[]>(() => undefined); // an API that never answers
    };
    const out = new Capture();
    await expect(watchJobs({ fetchJobs, now: script.now, out, intervalMs: 0, signal: controller.signal })).rejects.toThrow(
      'interrupted',
    );
    expect(polls).toBe(2);
  });
});
