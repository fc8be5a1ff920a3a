import { z } from 'zod';
import { WEBHOOK_STATUSES, type Webhook, type WebhookDelivery } from '../../domain/notifications';

/**
 * The response schemas of the webhook API. The view functions' return types
 * are the schemas' types, so the compiler refuses a view that drifts from
 * what the OpenAPI document (core/api/openapi.ts) says the API answers.
 */

const timestamp = z.iso.datetime().describe('ISO 8601, UTC');

const webhookFields = {
  id: z.string().describe('whk_…'),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_STATUSES)),
  description: z.string().optional(),
  createdAt: timestamp,
};

export const WebhookViewSchema = z
  .strictObject(webhookFields)
  .meta({ id: 'WebhookView', description: 'A webhook (never its signing secret)' });
export type WebhookView = z.output<typeof WebhookViewSchema>;

/** POST /webhooks: the only answer that carries the signing secret. */
export const NewWebhookViewSchema = z
  .strictObject({
    ...webhookFields,
    secret: z.string().describe('The signing secret (HMAC-SHA256 of each delivery); shown this once'),
  })
  .meta({ id: 'NewWebhookView' });
export type NewWebhookView = z.output<typeof NewWebhookViewSchema>;

export const DeletedWebhookViewSchema = z
  .strictObject({ ...webhookFields, deleted: z.literal(true) })
  .meta({ id: 'DeletedWebhookView' });
export type DeletedWebhookView = z.output<typeof DeletedWebhookViewSchema>;

export const WebhookDeliveryViewSchema = z
  .strictObject({
    deliveryId: z.string(),
    webhookId: z.string(),
    jobId: z.string(),
    event: z.enum(WEBHOOK_STATUSES),
    status: z.enum(['PENDING', 'SUCCEEDED', 'FAILED']),
    attempts: z.number().int(),
    lastHttpStatus: z.number().int().optional(),
    lastError: z.string().optional(),
    createdAt: timestamp,
    updatedAt: timestamp,
    lastAttemptAt: timestamp.optional(),
    nextAttemptAt: timestamp.optional(),
  })
  .meta({ id: 'WebhookDeliveryView', description: 'One job event’s delivery to a webhook' });
export type WebhookDeliveryView = z.output<typeof WebhookDeliveryViewSchema>;

/** What the API shows of a webhook: never its secret, nor where the secret is. */
export function toWebhookView(webhook: Webhook): WebhookView {
  return {
    id: webhook.webhookId,
    url: webhook.url,
    events: webhook.events,
    ...(webhook.description ? { description: webhook.description } : {}),
    createdAt: webhook.createdAt,
  };
}

export function toNewWebhookView(webhook: Webhook, secret: string): NewWebhookView {
  return { ...toWebhookView(webhook), secret };
}

export function toDeletedWebhookView(webhook: Webhook): DeletedWebhookView {
  return { ...toWebhookView(webhook), deleted: true };
}

export function toDeliveryView(delivery: WebhookDelivery): WebhookDeliveryView {
  const { payload: _payload, customerId: _customerId, ...view } = delivery;
  return view;
}
