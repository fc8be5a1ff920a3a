import { z } from 'zod';
import type { Route, Schedule } from '../../domain/triggers';

/**
 * The response schemas of the route and schedule APIs. The view functions'
 * return types are the schemas' types, so the compiler refuses a view that
 * drifts from what the OpenAPI document (core/api/openapi.ts) says.
 */

const timestamp = z.iso.datetime().describe('ISO 8601, UTC');

const TriggerTargetViewSchema = z.strictObject({
  endpointId: z.string(),
  path: z.string().describe('The folder files are delivered into, relative to the target endpoint'),
  createDirectories: z.boolean(),
});

const triggerBase = {
  id: z.string(),
  name: z.string(),
  enabled: z.boolean(),
  target: TriggerTargetViewSchema,
  createdAt: timestamp,
  updatedAt: timestamp,
  version: z.number().int().describe('Incremented by every change'),
};

export const RouteViewSchema = z
  .strictObject({
    ...triggerBase,
    id: z.string().describe('rt_…'),
    source: z.strictObject({
      endpointId: z.string(),
      path: z.string().describe('Folder under the endpoint’s prefix ("" = the whole prefix)'),
      pattern: z.string().optional(),
      includeSubfolders: z.boolean(),
    }),
  })
  .meta({ id: 'RouteView', description: 'Objects created under an S3 endpoint’s folder are delivered to the target' });

export type RouteView = z.output<typeof RouteViewSchema>;

export const ScheduleViewSchema = z
  .strictObject({
    ...triggerBase,
    id: z.string().describe('sc_…'),
    source: z.strictObject({ endpointId: z.string(), path: z.string(), pattern: z.string().optional() }),
    timing: z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('rate'), everySeconds: z.number().int() }),
      z.strictObject({ kind: z.literal('cron'), expression: z.string(), timeZone: z.string() }),
    ]),
    minimumFileAgeSeconds: z.number().int(),
    afterTransfer: z.discriminatedUnion('action', [
      z.strictObject({ action: z.literal('LEAVE') }),
      z.strictObject({ action: z.literal('DELETE') }),
      z.strictObject({ action: z.literal('MOVE'), archivePath: z.string() }),
    ]),
    nextRunAt: timestamp.optional().describe('When the schedule next polls; only while it is enabled'),
  })
  .meta({
    id: 'ScheduleView',
    description: 'A partner’s SFTP folder polled on a timing; new, stable files pulled to the target',
  });

export type ScheduleView = z.output<typeof ScheduleViewSchema>;

/** What the API shows of a route: everything but the customer and the bucket the engine indexes it by. */
export function toRouteView(route: Route): RouteView {
  const { customerId: _customerId, sourceBucket: _sourceBucket, routeId, ...rest } = route;
  return { id: routeId, ...rest };
}

/** What the API shows of a schedule; nextRunAt only while it is enabled (a disabled one runs never). */
export function toScheduleView(schedule: Schedule): ScheduleView {
  const { customerId: _customerId, scheduleId, nextRunAt, ...rest } = schedule;
  return { id: scheduleId, ...rest, ...(schedule.enabled ? { nextRunAt } : {}) };
}
