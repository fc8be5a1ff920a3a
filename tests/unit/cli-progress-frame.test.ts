import { columns } from '../../cli/progress/format';
import { layoutFrame, renderFrame } from '../../cli/progress/frame';
import { initialState, observe, type ProgressState } from '../../cli/progress/model';
import type { ProgressJob } from '../../cli/progress/watch';

const MiB = 1024 * 1024;
const LONG = 'partners/acme/outbound/daily/settlement-report-2026-12-03-final.csv';

function job(
  jobId: string,
  status: string,
  bytesTransferred: number,
  bytesTotal?: number,
  path = `daily/${jobId}.csv`,
): ProgressJob {
  return {
    jobId,
    status,
    source: { path },
    target: { path: `in/${jobId}` },
    bytesTransferred,
    ...(bytesTotal !== undefined ? { bytesTotal } : {}),
  };
}

/** Polls one second apart; the last poll's state. */
function polled(...polls: ProgressJob[][]): ProgressState {
  let state = initialState(0);
  polls.forEach((jobs, i) => {
    state = observe(state, jobs, i * 1000).state;
  });
  return state;
}

/** A request mid-way: a long-named file, a short one, one of unknown size, one queued, one done. */
const midway = polled(
  [
    job('a', 'RUNNING', 0, 40 * MiB, LONG),
    job('b', 'RUNNING', 0, 3 * MiB),
    job('c', 'RUNNING', 0),
    job('d', 'QUEUED', 0, MiB),
    job('e', 'SUCCEEDED', 2 * MiB, 2 * MiB),
  ],
  [
    job('a', 'RUNNING', 8 * MiB, 40 * MiB, LONG),
    job('b', 'RUNNING', MiB, 3 * MiB),
    job('c', 'RUNNING', 512 * 1024),
    job('d', 'QUEUED', 0, MiB),
    job('e', 'SUCCEEDED', 2 * MiB, 2 * MiB),
  ],
  [
    job('a', 'RUNNING', 16 * MiB, 40 * MiB, LONG),
    job('b', 'VERIFYING', 3 * MiB, 3 * MiB),
    job('c', 'RUNNING', 1024 * 1024),
    job('d', 'QUEUED', 0, MiB),
    job('e', 'SUCCEEDED', 2 * MiB, 2 * MiB),
  ],
);

const NOT_A_NUMBER = /NaN|Infinity|undefined|null/;

describe.each([40, 80, 200])('a frame %i columns wide', (width) => {
  const lines = renderFrame(midway, { width, maxFileBars: 10 });

  test('every line fits the width, and no figure is NaN, Infinity or undefined', () => {
    for (const line of lines) {
      expect(columns(line)).toBeLessThanOrEqual(width);
      expect(line).not.toMatch(NOT_A_NUMBER);
    }
  });

  test('one line for the request, one of file counts, one per running file', () => {
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^Total /);
    expect(lines[1]).toMatch(/3 run|3 running/);
    expect(lines[1]).toMatch(/1\/5 (done|ok)/);
    // A cut name keeps its end: the file name.
    expect(lines[2]).toMatch(width >= 200 ? LONG : /…/);
    expect(lines[3]).toMatch(/daily\/b\.csv|…b\.csv/);
    expect(lines[3]).toMatch(/verifying/);
    expect(lines[4]).toMatch(/c\.csv/);
  });
});

describe('layout', () => {
  test('wide enough, the bars line up and each running file shows bytes/total, %, rate and ETA', () => {
    const lines = renderFrame(midway, { width: 200, maxFileBars: 10 });
    const [request = '', , first = '', second = ''] = lines;
    expect(first.indexOf('[')).toBe(second.indexOf('['));
    // The request's total is unknown (a file of unknown size): no bar, its figures in the figures' column.
    expect(request.indexOf('22.0 MiB')).toBe(first.indexOf('] ') + 2);
    expect(lines[2]).toMatch(/\[=+>-+\] 16\.0 MiB \/ 40\.0 MiB {2}40% {2}8\.0 MiB\/s {2}ETA 3s$/);
    // The request: bytes done/total (the file of unknown size keeps it unknown), rate, files and elapsed.
    expect(lines[0]).toMatch(/22\.0 MiB \/ \? {2}\d+\.\d MiB\/s {2}ETA -$/);
    expect(lines[1]).toBe('Files: 1/5 done, 0 failed, 3 running, 1 queued · elapsed 2s');
  });

  test('narrow, the bar goes before the figures, and the figures before the name', () => {
    const narrow = renderFrame(midway, { width: 40, maxFileBars: 10 });
    expect(narrow[2]).toMatch(/40% 8\.0 MiB\/s/);
    const tiny = renderFrame(midway, { width: 12, maxFileBars: 10 });
    for (const line of tiny) expect(columns(line)).toBeLessThanOrEqual(12);
  });

  test('with a total, the request has a bar and a percentage', () => {
    const known = polled([job('a', 'RUNNING', 0, 10 * MiB)], [job('a', 'RUNNING', 5 * MiB, 10 * MiB)]);
    const [request = ''] = renderFrame(known, { width: 80, maxFileBars: 10 });
    expect(request).toMatch(/^Total +\[=+>-+\] 5\.0 MiB \/ 10\.0 MiB {2}50% {2}5\.0 MiB\/s {2}ETA 1s$/);
  });

  test('many running files: the first N by start time, then how many more', () => {
    const jobs = Array.from({ length: 25 }, (_, i) => job(`f${String(i).padStart(2, '0')}`, 'RUNNING', i * 1000, MiB));
    const lines = renderFrame(polled(jobs, jobs), { width: 80, maxFileBars: 5 });
    expect(lines).toHaveLength(2 + 5 + 1);
    expect(lines.slice(2, 7).map((line) => line.match(/f\d\d/)?.[0])).toEqual(['f00', 'f01', 'f02', 'f03', 'f04']);
    expect(lines[7]).toBe('… and 20 more running');
  });

  test('a running file that has not reported for a while says how long, instead of a rate', () => {
    let state = observe(initialState(0), [job('a', 'RUNNING', MiB, 10 * MiB)], 0).state;
    state = observe(state, [job('a', 'RUNNING', MiB, 10 * MiB)], 20_000).state;
    const lines = renderFrame(state, { width: 100, maxFileBars: 10 });
    expect(lines[2]).toMatch(/no progress for 20s$/);
  });

  test('a running file with nothing written yet is starting', () => {
    const lines = renderFrame(polled([job('a', 'RUNNING', 0, 10 * MiB)]), { width: 100, maxFileBars: 10 });
    expect(lines[2]).toMatch(/0 B \/ 10\.0 MiB {2}0% {2}starting$/);
  });

  test('the final frame has the totals, the average rate and the elapsed time, and no file bars or ETA', () => {
    const done = polled(
      [job('a', 'RUNNING', 0, 4 * MiB), job('b', 'RUNNING', 0, 4 * MiB)],
      [job('a', 'SUCCEEDED', 4 * MiB, 4 * MiB), job('b', 'FAILED', MiB, 4 * MiB)],
    );
    const lines = renderFrame(done, { width: 80, maxFileBars: 10 });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/5\.0 MiB \/ 5\.0 MiB {2}100% {2}5\.0 MiB\/s$/);
    expect(lines[1]).toBe('Files: 1/2 done, 1 failed, 0 running, 0 queued · elapsed 1s');
  });

  test("a partner's file name with escape codes is drawn harmless", () => {
    const lines = renderFrame(polled([job('a', 'RUNNING', 0, 10, '\x1b[2J\x1b[1;1Hevil.csv')]), { width: 80, maxFileBars: 10 });
    expect(lines.join('\n')).not.toContain('\x1b');
    expect(lines[2]).toMatch(/^\?\[2J\?\[1;1Hevil\.csv/);
  });

  test('figures that grow and shrink from poll to poll do not flip the layout at the edge of the width', () => {
    // Short figures (no rate yet) and long ones (a rate and an ETA) of the same file.
    const short = polled([job('a', 'RUNNING', 0, 10 * MiB)]);
    const long = polled([job('a', 'RUNNING', 0, 10 * MiB)], [job('a', 'RUNNING', 3 * MiB, 10 * MiB)]);
    const rankAt = (state: ProgressState, width: number, previousRank?: number) =>
      layoutFrame(state, {
        width,
        maxFileBars: 10,
        ...(previousRank !== undefined ? { previous: { rank: previousRank, figures: 0 } } : {}),
      }).layout?.rank;
    const edge = Array.from({ length: 100 }, (_, i) => 30 + i).find((w) => rankAt(short, w) === 0 && rankAt(long, w) === 1);
    expect(edge).toBeDefined();
    const width = edge as number;
    // The long figures forced the poorer layout; the short ones that follow keep it…
    expect(rankAt(short, width, 1)).toBe(1);
    // …until the richer one fits with room to spare (the terminal got wider).
    expect(rankAt(short, width + 20, 1)).toBe(0);
    // A poorer layout is taken at once when the richer no longer fits.
    expect(rankAt(long, width, 0)).toBe(1);
  });

  test('within one layout, names and bars hold still while the figures shrink', () => {
    const long = polled([job('a', 'RUNNING', 0, 10 * MiB)], [job('a', 'RUNNING', 3 * MiB, 10 * MiB)]);
    const short = polled([job('a', 'RUNNING', 0, 10 * MiB)]);
    const bars = (frame: { lines: string[] }) => [frame.lines[2]?.indexOf('['), frame.lines[2]?.indexOf(']')];
    // A width where both take the same layout, and the bar would stretch as the figures shrink.
    const width = Array.from({ length: 100 }, (_, i) => 30 + i).find((w) => {
      const [a, b] = [layoutFrame(long, { width: w, maxFileBars: 10 }), layoutFrame(short, { width: w, maxFileBars: 10 })];
      return a.layout?.rank === b.layout?.rank && bars(a)[1] !== bars(b)[1];
    });
    expect(width).toBeDefined();
    const first = layoutFrame(long, { width: width as number, maxFileBars: 10 });
    const next = layoutFrame(short, {
      width: width as number,
      maxFileBars: 10,
      ...(first.layout ? { previous: first.layout } : {}),
    });
    expect(next.layout?.rank).toBe(first.layout?.rank);
    expect(bars(next)).toEqual(bars(first));
  });
});
