/**
 * The API's types for clients (the eft CLI), derived from the schemas the
 * handlers validate with and the views are typed by: no second copy of a
 * request or response shape. Requests are the input side of their schemas
 * (what a client may send: defaults may be left out); answers the output side.
 */
import type { z } from 'zod';
import type { EgressViewSchema } from '../control-plane/egress/view';
import type { CreateEndpointSchema, UpdateEndpointSchema } from '../control-plane/endpoints/schemas';
import type { AuditEventViewSchema, EndpointViewSchema, ValidationViewSchema } from '../control-plane/endpoints/view';
import type { ApiErrorBodySchema } from '../control-plane/http/error-body';
import type { CreateWebhookSchema } from '../control-plane/notifications/schemas';
import type {
  DeletedWebhookViewSchema,
  NewWebhookViewSchema,
  WebhookDeliveryViewSchema,
  WebhookViewSchema,
} from '../control-plane/notifications/view';
import type { CreateTransferSchema } from '../control-plane/transfers/schemas';
import type { JobViewSchema, TransferRequestViewSchema } from '../control-plane/transfers/view';
import type {
  CreateRouteSchema,
  CreateScheduleSchema,
  UpdateRouteSchema,
  UpdateScheduleSchema,
} from '../control-plane/triggers/schemas';
import type { RouteViewSchema, ScheduleViewSchema } from '../control-plane/triggers/view';

// Requests
export type CreateEndpointInput = z.input<typeof CreateEndpointSchema>;
export type UpdateEndpointInput = z.input<typeof UpdateEndpointSchema>;
export type CreateTransferInput = z.input<typeof CreateTransferSchema>;
export type CreateRouteInput = z.input<typeof CreateRouteSchema>;
export type UpdateRouteInput = z.input<typeof UpdateRouteSchema>;
export type CreateScheduleInput = z.input<typeof CreateScheduleSchema>;
export type UpdateScheduleInput = z.input<typeof UpdateScheduleSchema>;
export type CreateWebhookInput = z.input<typeof CreateWebhookSchema>;

// Answers
export type EndpointView = z.output<typeof EndpointViewSchema>;
/** POST /endpoints/{id}/validate: `{ endpoint, validation }`. */
export type ValidationView = z.output<typeof ValidationViewSchema>;
/** One entry of GET /endpoints/{id}/audit. */
export type AuditEventView = z.output<typeof AuditEventViewSchema>;
export type JobView = z.output<typeof JobViewSchema>;
/** POST /transfers: `{ requestId, jobCount, jobs, moreJobs? }`. */
export type TransferRequestView = z.output<typeof TransferRequestViewSchema>;
export type RouteView = z.output<typeof RouteViewSchema>;
export type ScheduleView = z.output<typeof ScheduleViewSchema>;
/** GET /webhooks items; POST /webhooks answers NewWebhookView (with `secret`), DELETE DeletedWebhookView. */
export type WebhookView = z.output<typeof WebhookViewSchema>;
export type NewWebhookView = z.output<typeof NewWebhookViewSchema>;
export type DeletedWebhookView = z.output<typeof DeletedWebhookViewSchema>;
export type WebhookDeliveryView = z.output<typeof WebhookDeliveryViewSchema>;
export type EgressView = z.output<typeof EgressViewSchema>;
/**
 * A list answer. GET /endpoints, /endpoints/{id}/audit, /jobs, /routes and
 * /schedules page (`nextCursor` until the last page; pass it as `?cursor=`);
 * GET /webhooks and /webhooks/{id}/deliveries answer `items` only.
 */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}
/** The body of every refused request: `{ error: { code, message, fields?, requestId? } }`. */
export type ApiErrorBody = z.output<typeof ApiErrorBodySchema>;
export type ErrorCode = ApiErrorBody['error']['code'];
