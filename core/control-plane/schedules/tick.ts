/**
 * The schedule tick (functions/schedules/tick.ts, every minute in each region):
 * claims the runs of the schedules that are due and sends one poll message per
 * claimed run to the schedule polls queue.
 *
 * Why one tick rather than one EventBridge Scheduler schedule per customer
 * schedule: the API creates no AWS resources and makes no Scheduler calls, the
 * schedules replicate with the global triggers table, and both regions tick:
 * a claim is a conditional update of the schedule's nextRunAt (ScheduleStore.claimRun),
 * so exactly one tick of either region wins each run, and when a region is down
 * the other's tick claims every run alone.
 */
import type { Clock } from '../../domain/clock';
import { deterministicId } from '../../domain/ids';
import type { Logger } from '../../domain/logger';
import { inParallel } from '../../domain/parallel';
import type { ScheduleStore } from '../../domain/ports';
import type { PollQueue, PollRequest } from '../../domain/schedule-polls';
import type { Schedule, ScheduleTiming } from '../../domain/triggers';

export interface TickDeps {
  schedules: Pick<ScheduleStore, 'due' | 'claimRun'>;
  polls: PollQueue;
  clock: Clock;
  /** The schedule's first run strictly after `after` (core/domain/schedule-timing.ts); undefined if it never runs again. */
  nextRunAfter: (timing: ScheduleTiming, after: Date) => Date | undefined;
  log: Logger;
}

/** Due schedules read per page (ScheduleStore.due). */
export const TICK_PAGE = 500;
/** Pages per tick: at most 5,000 runs claimed per tick and region; the rest are still due at the next tick. */
const TICK_PAGES = 10;
const CLAIM_CONCURRENCY = 16;
/** A cron that never fires again (its last date is past): parked where `due` never reaches it. */
const NEVER = '9999-12-31T23:59:59.999Z';

/** The id of one run of a schedule: the same for every region and retry that sees this run. */
export function pollIdOf(scheduleId: string, dueAt: string): string {
  return deterministicId('poll', scheduleId, dueAt);
}

export interface TickOutcome {
  /** Runs this tick claimed and sent. */
  sent: PollRequest[];
  /** Due runs another tick (this region's or the other's) claimed first. */
  lost: number;
  /** Runs claimed but not sent (the queue refused them): their claims were given back, so the next tick retries them. */
  unsent: PollRequest[];
}

export async function tick(deps: TickDeps): Promise<TickOutcome> {
  const outcome: TickOutcome = { sent: [], lost: 0, unsent: [] };
  const now = new Date(deps.clock.now());
  for (let page = 0; page < TICK_PAGES; page++) {
    const due = await deps.schedules.due(now.toISOString(), TICK_PAGE);
    const claimed: { schedule: Schedule; next: string; poll: PollRequest }[] = [];
    await inParallel(due, CLAIM_CONCURRENCY, async (schedule) => {
      // The next run after NOW, not after the missed one: a schedule behind by many periods runs once.
      const next = deps.nextRunAfter(schedule.timing, now)?.toISOString() ?? NEVER;
      if (!(await deps.schedules.claimRun(schedule, next))) {
        outcome.lost++;
        return;
      }
      const poll = {
        customerId: schedule.customerId,
        scheduleId: schedule.scheduleId,
        pollId: pollIdOf(schedule.scheduleId, schedule.nextRunAt),
        dueAt: schedule.nextRunAt,
      };
      claimed.push({ schedule, next, poll });
    });
    const unsent = new Set((await deps.polls.send(claimed.map((c) => c.poll))).map((p) => p.pollId));
    for (const { schedule, next, poll } of claimed) {
      if (!unsent.has(poll.pollId)) {
        outcome.sent.push(poll);
        continue;
      }
      outcome.unsent.push(poll);
      // Give the claim back (only if no one moved it since), so the run is not lost.
      await deps.schedules.claimRun({ ...schedule, nextRunAt: next }, schedule.nextRunAt).catch((error: unknown) => {
        deps.log.error('schedule run claimed but neither polled nor given back: it is skipped', {
          scheduleId: schedule.scheduleId,
          dueAt: schedule.nextRunAt,
          error,
        });
      });
    }
    // A short page was the last; a page none of which this tick won is one the index has not caught up with.
    if (due.length < TICK_PAGE || claimed.length === 0) break;
  }
  if (outcome.sent.length || outcome.unsent.length) {
    deps.log.info('schedule tick', { sent: outcome.sent.length, lost: outcome.lost, unsent: outcome.unsent.length });
  }
  if (outcome.unsent.length) {
    deps.log.error('the schedule polls queue refused polls; their runs stay due', {
      polls: outcome.unsent.map((p) => p.pollId),
    });
  }
  return outcome;
}
