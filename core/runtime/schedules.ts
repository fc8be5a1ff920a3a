import { requireEnv } from '../adapters/config';
import { SqsPollQueue } from '../adapters/sqs/poll-queue';
import type { PollDeps } from '../control-plane/schedules/poll';
import type { TickDeps } from '../control-plane/schedules/tick';
import { minRateSecondsFromEnv, nextRunAfter } from '../control-plane/triggers/schedule-timing';
import { type Clock, systemClock } from '../domain/clock';
import type { Logger } from '../domain/logger';
import { logger } from '../observability/logger';
import { buildJobCreation, buildStores } from './wiring';

/** What the schedule tick needs (functions/schedules/tick.ts), built once per container. */
export function buildScheduleTick(
  env: NodeJS.ProcessEnv = process.env,
  clock: Clock = systemClock,
  log: Logger = logger,
): TickDeps {
  const stores = buildStores(env, clock);
  return {
    schedules: stores.schedules,
    polls: new SqsPollQueue(env, requireEnv('SCHEDULE_POLLS_QUEUE_URL', env)),
    clock,
    nextRunAfter,
    log,
  };
}

/** What a schedule's poll needs (functions/schedules/poll.ts), built once per container. */
export function buildSchedulePoll(
  env: NodeJS.ProcessEnv = process.env,
  clock: Clock = systemClock,
  log: Logger = logger,
): PollDeps {
  const stores = buildStores(env, clock);
  return {
    ...buildJobCreation(env, stores),
    schedules: stores.schedules,
    sightings: stores.sightings,
    log,
    // Two looks at a file at least half the shortest schedule period apart (30 s in AWS) prove it stable;
    // a redelivered or crowded poll that looks again sooner does not.
    stableAfterMs: (minRateSecondsFromEnv(env) * 1000) / 2,
  };
}
