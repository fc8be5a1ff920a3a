import { runDrill } from '../../local/drill/run';

const MiB = 1024 * 1024;

// The short failover drill (`npm run drill` runs the long one): every flow started in west, west's
// processes killed at a random byte offset, and nothing may be duplicated, partial, lost or stuck.
// The seed is fixed so a failure can be replayed with `npm run drill -- --seed 15 --fault ...`.
test('a region killed mid-transfer: every job ends, each destination holds exactly one complete copy', async () => {
  const progress: string[] = [];
  const run = await runDrill({
    rounds: 2,
    seed: 15,
    faults: ['region-sigkill', 'sfn-sigkill'],
    // Smaller files than the drill's own: the round is about the fault, not the throughput.
    sizes: { streamedBytes: 8 * MiB, multipartBytes: 11 * MiB, smallFiles: 8 },
    stuckAfterMs: 40_000,
    log: (line) => progress.push(`${new Date().toISOString()} ${line}`),
  });
  // The report names each problem; shown whole when the drill fails.
  if (!run.summary.passed) console.log(`${progress.join('\n')}\n${run.report}`);
  expect(run.summary.errors).toEqual([]);
  expect(run.summary.runs).toBe(2);
  expect({
    duplicates: run.summary.duplicates,
    partials: run.summary.partials,
    lost: run.summary.lost,
    stuck: run.summary.stuck,
  }).toEqual({ duplicates: 0, partials: 0, lost: 0, stuck: 0 });
  // The fault really interrupted work that another execution then took over.
  expect(run.summary.takeoverMaxMs).toBeDefined();
}, 110_000);
