import { columns, formatBytes, formatDuration, formatRate, sanitize, truncateStart, wrap } from '../../cli/progress/format';
import { initialState, observe, type ProgressState, summarize } from '../../cli/progress/model';
import type { ProgressJob } from '../../cli/progress/watch';
import type { JobView } from '../../core/control-plane/notifications/job-events';
import { toJobView } from '../../core/control-plane/transfers/view';
import type { TransferJob } from '../../core/domain/job';

const MiB = 1024 * 1024;

function job(jobId: string, status: string, bytesTransferred: number, bytesTotal?: number, extra: Partial<ProgressJob> = {}) {
  return {
    jobId,
    status,
    source: { path: `daily/${jobId}.csv` },
    target: { path: `in/${jobId}.csv` },
    bytesTransferred,
    ...(bytesTotal !== undefined ? { bytesTotal } : {}),
    ...extra,
  };
}

/** The state after polls one second apart, each returning the given views. */
function polled(...polls: ProgressJob[][]): ProgressState {
  let state = initialState(0);
  polls.forEach((jobs, i) => {
    state = observe(state, jobs, i * 1000).state;
  });
  return state;
}

describe('the job view the API returns is what the display reads', () => {
  test('a JobView is assignable to ProgressJob (the CLI passes the views as they are)', () => {
    const at = '2026-12-03T00:00:00.000Z';
    const stored: TransferJob = {
      jobId: 'job_1',
      customerId: 'cust',
      flowType: 'SFTP_TO_S3',
      sourceEndpointId: 'ep_s',
      sourcePath: 'daily/a.csv',
      targetEndpointId: 'ep_t',
      targetPath: 'in/a.csv',
      partitionId: 'p',
      idempotencyKey: 'k',
      requestFingerprint: 'f',
      status: 'FAILED',
      errorCode: 'AUTH_FAILED',
      errorMessage: 'the partner refused the key',
      attempts: 1,
      createdAt: at,
      updatedAt: at,
      transitions: [],
      bytesTotal: 10,
    };
    const view: JobView = toJobView(stored);
    const read: ProgressJob = view; // compile-time check: this line fails tsc if the view drifts
    const { state, events } = observe(initialState(0), [read], 0);
    expect(events).toEqual([{ kind: 'failed', file: expect.objectContaining({ name: 'daily/a.csv' }) }]);
    expect(state.files[0]?.error).toEqual({ code: 'AUTH_FAILED', message: 'the partner refused the key' });
  });
});

describe('figures', () => {
  test('sizes in binary units, never NaN', () => {
    expect([0, 1023, 1536, 1.5 * MiB, 1048575, 3 * 1024 * MiB].map((n) => formatBytes(n))).toEqual([
      '0 B',
      '1023 B',
      '1.5 KiB',
      '1.5 MiB',
      '1.0 MiB',
      '3.0 GiB',
    ]);
    expect([undefined, Number.NaN, Number.POSITIVE_INFINITY, -1].map((n) => formatBytes(n))).toEqual(['?', '?', '?', '?']);
    expect([undefined, Number.NaN, Number.POSITIVE_INFINITY].map((n) => formatRate(n))).toEqual(['-', '-', '-']);
  });

  test('durations as 7s, 1m05s, 2h03m, 4d06h; unknown as -', () => {
    expect([7000, 65_000, (2 * 3600 + 3 * 60) * 1000, (99 * 3600 + 3 * 3600) * 1000].map((ms) => formatDuration(ms))).toEqual([
      '7s',
      '1m05s',
      '2h03m',
      '4d06h',
    ]);
    expect([undefined, Number.NaN, Number.POSITIVE_INFINITY, -5].map((ms) => formatDuration(ms))).toEqual(['-', '-', '-', '-']);
  });

  test("a partner's file name cannot move the cursor or reorder the line", () => {
    expect(sanitize('\x1b[2Jgone\r\nname\u202eexe.txt\u009b')).toBe('?[2Jgone??name?exe.txt?');
  });

  test('wide characters count two columns; a cut name keeps its end within the width', () => {
    expect(columns('報告書.csv')).toBe(10);
    const cut = truncateStart('月次/報告書-2026.csv', 12);
    expect(cut.startsWith('…')).toBe(true);
    expect(cut.endsWith('-2026.csv')).toBe(true);
    expect(columns(cut)).toBeLessThanOrEqual(12);
  });

  test('a long message wraps at spaces into lines of the width', () => {
    const lines = wrap('FAILED daily/a.csv: AUTH_FAILED: the partner refused the key we offered', 24);
    expect(lines.every((line) => columns(line) <= 24)).toBe(true);
    expect(lines.join(' ')).toBe('FAILED daily/a.csv: AUTH_FAILED: the partner refused the key we offered');
  });
});

describe('the model', () => {
  test('a file that goes from queued to running and on to an end says so once per change', () => {
    let state = initialState(0);
    const seen: string[] = [];
    for (const [i, status] of ['QUEUED', 'RUNNING', 'RUNNING', 'VERIFYING', 'SUCCEEDED'].entries()) {
      const observed = observe(state, [job('a', status, status === 'QUEUED' ? 0 : MiB, MiB)], i * 1000);
      state = observed.state;
      seen.push(...observed.events.map((e) => e.kind));
    }
    expect(seen).toEqual(['started', 'succeeded']);
    expect(state.finished).toBe(true);
  });

  test('a small file done between two polls is reported done, not started', () => {
    const first = observe(initialState(0), [job('a', 'QUEUED', 0, 10)], 0);
    const second = observe(first.state, [job('a', 'SUCCEEDED', 10, 10)], 1000);
    expect(second.events.map((e) => e.kind)).toEqual(['succeeded']);
  });

  test('rates are smoothed over the window: a poll that sees no new progress write does not drop them to zero', () => {
    // The worker writes its count every 2 s here (1 MiB/s); polls come every second.
    const polls = Array.from({ length: 12 }, (_, i) => [job('a', 'RUNNING', Math.floor(i / 2) * 2 * MiB, 100 * MiB)]);
    let state = initialState(0);
    const rates: number[] = [];
    polls.forEach((jobs, i) => {
      state = observe(state, jobs, i * 1000).state;
      if (i >= 6) rates.push(summarize(state).rate ?? Number.NaN);
    });
    for (const rate of rates) {
      expect(rate).toBeGreaterThan(0.7 * MiB);
      expect(rate).toBeLessThan(1.3 * MiB);
    }
  });

  test('unknown totals give no percent and no ETA (and nothing that is not a number)', () => {
    const state = polled(
      [job('a', 'RUNNING', 0), job('b', 'QUEUED', 0, 5)],
      [job('a', 'RUNNING', MiB), job('b', 'QUEUED', 0, 5)],
    );
    const summary = summarize(state);
    expect(summary).toMatchObject({ bytesDone: MiB, rate: MiB });
    expect(summary.bytesTotal).toBeUndefined();
    expect(summary.percent).toBeUndefined();
    expect(summary.etaMs).toBeUndefined();
  });

  test('empty files are all done at 100%, with no division by zero', () => {
    const state = polled([job('a', 'SUCCEEDED', 0, 0), job('b', 'SUCCEEDED', 0, 0)]);
    const summary = summarize(state);
    expect(summary).toMatchObject({ bytesDone: 0, bytesTotal: 0, percent: 100 });
    expect(state.finished).toBe(true);
    expect(Object.values(summary).every((v) => typeof v !== 'number' || Number.isFinite(v))).toBe(true);
  });

  test("a failed file counts with the bytes it moved, so the request's total is reached when every file has ended", () => {
    const state = polled(
      [job('a', 'RUNNING', 0, 10 * MiB), job('b', 'RUNNING', 0, 4 * MiB)],
      [job('a', 'SUCCEEDED', 10 * MiB, 10 * MiB), job('b', 'FAILED', MiB, 4 * MiB, { error: { code: 'AUTH_FAILED' } })],
    );
    expect(summarize(state)).toMatchObject({
      bytesDone: 11 * MiB,
      bytesTotal: 11 * MiB,
      percent: 100,
      files: { total: 2, succeeded: 1, failed: 1, active: 0, queued: 0 },
    });
  });

  test('a file found already at its target adds no bytes to the rate', () => {
    const state = polled(
      [job('a', 'QUEUED', 0, 50 * MiB)],
      [job('a', 'SUCCEEDED', 50 * MiB, 50 * MiB, { result: { alreadyPresent: true } })],
    );
    expect(state.moved).toBe(0);
    expect(summarize(state).bytesDone).toBe(50 * MiB);
  });

  test('an attempt that starts over (the count goes down) gives no negative rate', () => {
    const state = polled(
      [job('a', 'RUNNING', 0, 10 * MiB)],
      [job('a', 'RUNNING', 6 * MiB, 10 * MiB)],
      [job('a', 'RUNNING', MiB, 10 * MiB)],
    );
    expect(state.moved).toBe(6 * MiB);
    expect(state.files[0]?.samples).toEqual([{ at: 2000, bytes: MiB }]);
  });

  test('the watch is finished only when every listed job has ended; a job listed twice counts once', () => {
    const running = polled([job('a', 'SUCCEEDED', 1, 1), job('b', 'RUNNING', 0, 1)]);
    expect(running.finished).toBe(false);
    const twice = polled([job('a', 'SUCCEEDED', 1, 1), job('a', 'SUCCEEDED', 1, 1)]);
    expect(twice.files).toHaveLength(1);
    expect(twice.finished).toBe(true);
    expect(polled([]).finished).toBe(true);
  });
});
