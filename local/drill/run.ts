import { DrillEngine, WEST } from './engine';
import { FAULTS, type Fault, SPLIT_BRAIN_FAULTS } from './faults';
import { type FileSizes, onboard } from './fixtures';
import { Random } from './random';
import { type DrillSummary, formatReport, summarize } from './report';
import { type RoundResult, runRound } from './round';

export interface DrillOptions {
  rounds: number;
  seed: number;
  /** Each region its own DynamoDB replica, and partitions of the replication longer than the lease TTL. */
  splitBrain?: boolean;
  /** Only these faults (default: every fault of the variant, picked at random). */
  faults?: Fault[];
  leaseTtlMs?: number;
  scheduleTickSeconds?: number;
  stuckAfterMs?: number;
  sizes?: FileSizes;
  echoLogs?: boolean;
  log?: (line: string) => void;
}

export interface DrillRun {
  rounds: RoundResult[];
  summary: DrillSummary;
  report: string;
}

/** Starts the local engine, onboards the drill's endpoints, runs the rounds, and reports. */
export async function runDrill(options: DrillOptions): Promise<DrillRun> {
  const log = options.log ?? (() => undefined);
  const leaseTtlMs = options.leaseTtlMs ?? 3000;
  const replicationLagMs = options.splitBrain ? 200 : undefined;
  const random = new Random(options.seed);
  const faults = options.faults ?? (options.splitBrain ? [...SPLIT_BRAIN_FAULTS, ...FAULTS] : [...FAULTS]);
  const engine = await DrillEngine.start({
    leaseTtlMs,
    scheduleTickSeconds: options.scheduleTickSeconds ?? 1,
    ...(replicationLagMs !== undefined ? { replicationLagMs } : {}),
    echoLogs: options.echoLogs,
  });
  const rounds: RoundResult[] = [];
  const errors: string[] = [];
  try {
    const endpoints = await onboard(engine.api(WEST), engine.info);
    // Let the endpoints reach east's replica before anything depends on them there.
    await engine.stack.replication?.settled();
    for (let round = 1; round <= options.rounds; round++) {
      // In a split-brain run every other round is a partition, so both kinds of fault get their share.
      const fault =
        options.splitBrain && !options.faults && round % 2 === 1 ? random.pick(SPLIT_BRAIN_FAULTS) : random.pick(faults);
      try {
        const result = await runRound(engine, endpoints, round, fault, random, {
          leaseTtlMs,
          stuckAfterMs: options.stuckAfterMs ?? 90_000,
          ...(replicationLagMs !== undefined ? { replicationLagMs } : {}),
          ...(options.sizes ? { sizes: options.sizes } : {}),
          log,
        });
        rounds.push(result);
        log(
          `round ${round}: ${result.jobs.filter((j) => j.status === 'SUCCEEDED').length}/${result.jobs.length} SUCCEEDED, dup ${result.duplicates.length}, partial ${result.partials.length}, lost ${result.lost.length}, stuck ${result.stuck.length}`,
        );
      } catch (error) {
        errors.push(`round ${round} (${fault}): ${(error as Error).stack ?? error}`);
        log(`round ${round}: ${(error as Error).message}`);
      }
    }
  } finally {
    await engine.close();
  }
  const summary = summarize(rounds, errors);
  return { rounds, summary, report: formatReport(rounds, summary) };
}
