import type { Schedule } from '../../domain/triggers';

/** Who a schedule's jobs and after-transfer outcomes are recorded as acting for. */
export const actorOf = (schedule: Pick<Schedule, 'scheduleId'>) => `schedule:${schedule.scheduleId}`;

/** A name (or relative path) under a folder relative to an endpoint ("" is the endpoint's base itself). */
export const joinPath = (folder: string, name: string) => {
  const base = folder.replace(/^\/+|\/+$/g, '');
  return base ? `${base}/${name}` : name;
};
