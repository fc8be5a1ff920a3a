/**
 * `npm run drill`: the failover drill against the local engine (local/drill/). Every round starts
 * transfers of every flow in us-gov-west-1, kills west's processes at a random point, and checks that
 * us-gov-east-1 (or west, back) finishes them exactly once. Exits non-zero on any duplicate, partial,
 * lost or stuck job.
 *
 *   npm run drill -- [--rounds N] [--seed S] [--split-brain] [--fault F]... [--stuck-after SECONDS] [--verbose]
 */

import { FAULTS, type Fault, SPLIT_BRAIN_FAULTS } from '../local/drill/faults';
import { runDrill } from '../local/drill/run';

function parse(argv: string[]) {
  const options = {
    rounds: 5,
    seed: Date.now() % 1_000_000,
    splitBrain: false,
    faults: [] as Fault[],
    stuckAfter: 90,
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--rounds') options.rounds = Number(value());
    else if (arg === '--seed') options.seed = Number(value());
    else if (arg === '--split-brain') options.splitBrain = true;
    else if (arg === '--stuck-after') options.stuckAfter = Number(value());
    else if (arg === '--verbose') options.verbose = true;
    else if (arg === '--fault') {
      const fault = value() as Fault;
      if (![...FAULTS, ...SPLIT_BRAIN_FAULTS].includes(fault))
        throw new Error(`unknown fault ${fault}: one of ${[...FAULTS, ...SPLIT_BRAIN_FAULTS].join(', ')}`);
      options.faults.push(fault);
    } else throw new Error(`unknown option ${arg}`);
  }
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new Error('--rounds must be a positive integer');
  return options;
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const started = Date.now();
  console.log(
    `eft failover drill: ${options.rounds} rounds, seed ${options.seed}${options.splitBrain ? ', split brain (DynamoDB replicas with lag)' : ''}`,
  );
  const run = await runDrill({
    rounds: options.rounds,
    seed: options.seed,
    splitBrain: options.splitBrain,
    ...(options.faults.length ? { faults: options.faults } : {}),
    stuckAfterMs: options.stuckAfter * 1000,
    echoLogs: options.verbose,
    log: (line) => console.log(`  ${line}`),
  });
  console.log(`\n${run.report}`);
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s; repeat with --seed ${options.seed})`);
  process.exit(run.summary.passed ? 0 : 1);
}

main().catch((error) => {
  console.error('drill failed:', error);
  process.exit(2);
});
