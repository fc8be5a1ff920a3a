import type { Route, Schedule } from '../../domain/triggers';

/** What the API shows of a route: everything but the customer and the bucket the engine indexes it by. */
export function toRouteView(route: Route) {
  const { customerId: _customerId, sourceBucket: _sourceBucket, routeId, ...rest } = route;
  return { id: routeId, ...rest };
}

/** What the API shows of a schedule; nextRunAt only while it is enabled (a disabled one runs never). */
export function toScheduleView(schedule: Schedule) {
  const { customerId: _customerId, scheduleId, nextRunAt, ...rest } = schedule;
  return { id: scheduleId, ...rest, ...(schedule.enabled ? { nextRunAt } : {}) };
}

export type RouteView = ReturnType<typeof toRouteView>;
export type ScheduleView = ReturnType<typeof toScheduleView>;
