import {
  isTimeZone,
  minRateSecondsFromEnv,
  nextRunAfter,
  timingProblems,
} from '../../core/control-plane/triggers/schedule-timing';

const at = (iso: string) => new Date(iso);

describe('schedule timing', () => {
  test('a rate runs everySeconds after the given moment', () => {
    expect(nextRunAfter({ kind: 'rate', everySeconds: 300 }, at('2026-03-01T10:00:00.000Z'))).toEqual(
      at('2026-03-01T10:05:00.000Z'),
    );
  });

  test('a cron runs at its next match in its time zone, strictly after the given moment', () => {
    const weekdays6am = { kind: 'cron', expression: '0 6 * * 1-5', timeZone: 'America/New_York' } as const;
    // Friday 2026-01-02 06:00 EST = 11:00 UTC.
    expect(nextRunAfter(weekdays6am, at('2026-01-02T00:00:00.000Z'))).toEqual(at('2026-01-02T11:00:00.000Z'));
    // At that very moment, the next one is Monday's (the weekend skipped).
    expect(nextRunAfter(weekdays6am, at('2026-01-02T11:00:00.000Z'))).toEqual(at('2026-01-05T11:00:00.000Z'));
    // Daylight saving time: 06:00 EDT = 10:00 UTC.
    expect(nextRunAfter(weekdays6am, at('2026-07-01T00:00:00.000Z'))).toEqual(at('2026-07-01T10:00:00.000Z'));
  });

  test('a cron that never fires, or is not one, has no next run', () => {
    expect(nextRunAfter({ kind: 'cron', expression: '0 0 30 2 *', timeZone: 'UTC' }, new Date())).toBeUndefined();
    expect(nextRunAfter({ kind: 'cron', expression: 'bad', timeZone: 'UTC' }, new Date())).toBeUndefined();
    expect(nextRunAfter({ kind: 'cron', expression: '0 6 * * *', timeZone: 'Mars/Olympus' }, new Date())).toBeUndefined();
  });

  test('time zones: IANA names only', () => {
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('America/Argentina/Buenos_Aires')).toBe(true);
    for (const bad of ['Mars/Olympus', '+05:00', '', 'Europe/', '../etc'])
      expect({ bad, ok: isTimeZone(bad) }).toEqual({ bad, ok: false });
  });

  test('problems name the field of the API body', () => {
    expect(timingProblems({ kind: 'cron', expression: '0 6 * * 1-5', timeZone: 'UTC' }, 60)).toEqual([]);
    expect(timingProblems({ kind: 'rate', everySeconds: 60 }, 60)).toEqual([]);
    const fieldOf = (problems: { field: string }[]) => problems.map((p) => p.field);
    expect(fieldOf(timingProblems({ kind: 'rate', everySeconds: 59 }, 60))).toEqual(['timing.everySeconds']);
    expect(fieldOf(timingProblems({ kind: 'rate', everySeconds: 90.5 }, 60))).toEqual(['timing.everySeconds']);
    expect(fieldOf(timingProblems({ kind: 'cron', expression: '0 0 30 2 *', timeZone: 'UTC' }, 60))).toEqual([
      'timing.expression',
    ]);
    expect(timingProblems({ kind: 'cron', expression: '0 0 30 2 *', timeZone: 'UTC' }, 60)[0]?.message).toMatch(/never fires/);
    for (const expression of ['* * * * * *', '@daily', '0 6 * *', '0  6 * * *', '61 * * * *']) {
      expect({ expression, fields: fieldOf(timingProblems({ kind: 'cron', expression, timeZone: 'UTC' }, 60)) }).toEqual({
        expression,
        fields: ['timing.expression'],
      });
    }
    expect(fieldOf(timingProblems({ kind: 'cron', expression: '0 6 * * *', timeZone: 'Mars/Olympus' }, 60))).toEqual([
      'timing.timeZone',
    ]);
  });

  test('the minimum rate comes from SCHEDULE_MIN_RATE_SECONDS, 60 by default', () => {
    expect(minRateSecondsFromEnv({})).toBe(60);
    expect(minRateSecondsFromEnv({ SCHEDULE_MIN_RATE_SECONDS: '1' })).toBe(1);
    expect(minRateSecondsFromEnv({ SCHEDULE_MIN_RATE_SECONDS: 'x' })).toBe(60);
  });
});
