/**
 * When a schedule runs (issue 14): five-field cron in an IANA time zone, read
 * with `croner`, or a rate in seconds. Used by the schedule API (validation,
 * the first nextRunAt) and by the tick (the next one). Here and not in
 * core/domain because the domain imports nothing but Node's built-in modules
 * (tests/unit/dependency-rules.test.ts), and croner is a package.
 */
import { Cron } from 'croner';
import type { FieldIssue } from '../../domain/errors';
import type { ScheduleTiming } from '../../domain/triggers';

/** The deployment's smallest rate when SCHEDULE_MIN_RATE_SECONDS is not set (serverless.yml sets "60"). */
export const DEFAULT_MIN_RATE_SECONDS = 60;

/** SCHEDULE_MIN_RATE_SECONDS: how often a rate schedule may poll at most (1 locally, 60 in AWS). */
export function minRateSecondsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.SCHEDULE_MIN_RATE_SECONDS);
  return Number.isInteger(value) && value > 0 ? value : DEFAULT_MIN_RATE_SECONDS;
}

/** A name such as Europe/Berlin, America/Argentina/Buenos_Aires or UTC; never an offset like +05:00. */
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

/** True for an IANA time zone name this runtime knows (Intl, the same data croner uses). */
export function isTimeZone(name: string): boolean {
  if (!ZONE_NAME.test(name) || /^[+-]/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Exactly five fields: minute hour day-of-month month day-of-week (no seconds, no years, no @nicknames). */
const FIVE_FIELDS = /^\S+( \S+){4}$/;

function parseCron(expression: string, timeZone: string): Cron {
  // paused: a pattern only, never a timer in this process.
  return new Cron(expression, { timezone: timeZone, paused: true, mode: '5-part' });
}

/**
 * The first run strictly after `after`, or undefined when there is none: a
 * cron that can never fire (e.g. `0 0 30 2 *`, February 30th), or one that is
 * not valid at all. A rate schedule runs `everySeconds` after `after`.
 */
export function nextRunAfter(timing: ScheduleTiming, after: Date): Date | undefined {
  if (timing.kind === 'rate') return new Date(after.getTime() + timing.everySeconds * 1000);
  if (!FIVE_FIELDS.test(timing.expression) || !isTimeZone(timing.timeZone)) return undefined;
  try {
    return parseCron(timing.expression, timing.timeZone).nextRun(after) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Why a cron expression is not one a schedule can use, or undefined if it can (the time zone checked apart). */
function cronProblem(expression: string, timeZone: string): string | undefined {
  if (!FIVE_FIELDS.test(expression)) {
    return 'must be five fields separated by single spaces: minute hour day-of-month month day-of-week';
  }
  let cron: Cron;
  try {
    cron = parseCron(expression, timeZone);
  } catch (error) {
    return `is not a cron expression (${error instanceof Error ? error.message.replace(/^CronPattern: /, '') : 'unreadable'})`;
  }
  return cron.nextRun(new Date()) ? undefined : 'never fires (no date matches it)';
}

/**
 * What is wrong with a schedule's timing, field by field (named as in the API
 * body: timing.expression, timing.timeZone, timing.everySeconds); empty when
 * it is good. `minRateSeconds`: the deployment's SCHEDULE_MIN_RATE_SECONDS.
 */
export function timingProblems(timing: ScheduleTiming, minRateSeconds: number): FieldIssue[] {
  if (timing.kind === 'rate') {
    return Number.isInteger(timing.everySeconds) && timing.everySeconds >= minRateSeconds
      ? []
      : [{ field: 'timing.everySeconds', message: `must be a whole number of seconds of at least ${minRateSeconds}` }];
  }
  if (!isTimeZone(timing.timeZone)) {
    return [{ field: 'timing.timeZone', message: 'is not an IANA time zone name (e.g. America/New_York, UTC)' }];
  }
  const problem = cronProblem(timing.expression, timing.timeZone);
  return problem ? [{ field: 'timing.expression', message: problem }] : [];
}
