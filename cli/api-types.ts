/**
 * The shapes the CLI sends and receives, derived from the schemas the handlers
 * validate with and the functions that build their answers: no second copy that
 * could drift. Type-only imports: nothing of core/ is loaded when the CLI runs.
 */
import type { z } from 'zod';
import type { CreateEndpointSchema, UpdateEndpointSchema } from '../core/control-plane/endpoints/schemas';
import type { validateEndpoint } from '../core/control-plane/endpoints/service';
import type { toView } from '../core/control-plane/endpoints/view';
import type { CreateWebhookSchema } from '../core/control-plane/notifications/schemas';
import type { toDeliveryView, toWebhookView } from '../core/control-plane/notifications/webhooks';
import type { CreateTransferSchema } from '../core/control-plane/transfers/schemas';
import type { toJobView, toTransferRequestView } from '../core/control-plane/transfers/view';
import type {
  CreateRouteSchema,
  CreateScheduleSchema,
  UpdateRouteSchema,
  UpdateScheduleSchema,
} from '../core/control-plane/triggers/schemas';
import type { toRouteView, toScheduleView } from '../core/control-plane/triggers/view';
import type { ErrorCode } from '../core/domain/error-codes';
import type { FieldIssue } from '../core/domain/errors';

export type CreateEndpointInput = z.input<typeof CreateEndpointSchema>;
export type UpdateEndpointInput = z.input<typeof UpdateEndpointSchema>;
export type CreateTransferInput = z.input<typeof CreateTransferSchema>;
export type CreateRouteInput = z.input<typeof CreateRouteSchema>;
export type UpdateRouteInput = z.input<typeof UpdateRouteSchema>;
export type CreateScheduleInput = z.input<typeof CreateScheduleSchema>;
export type UpdateScheduleInput = z.input<typeof UpdateScheduleSchema>;
export type CreateWebhookInput = z.input<typeof CreateWebhookSchema>;

export type EndpointView = ReturnType<typeof toView>;
/** POST /endpoints/{id}/validate answers the endpoint and what the probe found. */
export type EndpointValidationView = Awaited<ReturnType<typeof validateEndpoint>>;
export type JobView = ReturnType<typeof toJobView>;
export type TransferRequestView = ReturnType<typeof toTransferRequestView>;
export type RouteView = ReturnType<typeof toRouteView>;
export type ScheduleView = ReturnType<typeof toScheduleView>;
export type WebhookView = ReturnType<typeof toWebhookView>;
export type WebhookDeliveryView = ReturnType<typeof toDeliveryView>;

/** A refusal of the API (core/control-plane/http/error-response.ts). */
export interface ApiErrorBody {
  error: { code: ErrorCode | 'BAD_REQUEST' | 'INTERNAL'; message: string; fields?: FieldIssue[]; requestId?: string };
}

/** A page of a list (GET /endpoints, /jobs, /routes, /schedules). */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}
