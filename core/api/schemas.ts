/**
 * The response shapes that are not one view's: the pages a list answers with,
 * and what API Gateway itself answers before a handler runs. The views are
 * beside their view functions (core/control-plane/<area>/view.ts).
 */
import { z } from 'zod';
import { AuditEventViewSchema, EndpointViewSchema } from '../control-plane/endpoints/view';
import { WebhookDeliveryViewSchema, WebhookViewSchema } from '../control-plane/notifications/view';
import { JobViewSchema } from '../control-plane/transfers/view';
import { RouteViewSchema, ScheduleViewSchema } from '../control-plane/triggers/view';

/** A list answer: `items`, and `nextCursor` while there are more (pass it back as `?cursor=`). */
function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z
    .strictObject({
      items: z.array(item),
      nextCursor: z.string().optional().describe('Opaque; absent on the last page'),
    })
    .meta({ id });
}

/** A list answer without paging (the whole list, or the newest `limit` entries). */
function listOf<T extends z.ZodType>(item: T, id: string) {
  return z.strictObject({ items: z.array(item) }).meta({ id });
}

export const EndpointPageSchema = pageOf(EndpointViewSchema, 'EndpointPage');
export const AuditEventPageSchema = pageOf(AuditEventViewSchema, 'AuditEventPage');
export const JobPageSchema = pageOf(JobViewSchema, 'JobPage');
export const RoutePageSchema = pageOf(RouteViewSchema, 'RoutePage');
export const SchedulePageSchema = pageOf(ScheduleViewSchema, 'SchedulePage');
export const WebhookListSchema = listOf(WebhookViewSchema, 'WebhookList');
export const WebhookDeliveryListSchema = listOf(WebhookDeliveryViewSchema, 'WebhookDeliveryList');

/**
 * What API Gateway answers itself, before any handler: a request without a
 * valid SigV4 signature (403, `Missing Authentication Token` also for an
 * unknown route), throttling (429), its own failures (5xx).
 */
export const GatewayErrorSchema = z
  .strictObject({ message: z.string() })
  .meta({ id: 'GatewayError', description: 'API Gateway’s own answer (no handler ran)' });
