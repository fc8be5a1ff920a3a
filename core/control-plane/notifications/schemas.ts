import { z } from 'zod';
import { WEBHOOK_STATUSES } from './job-events';

/**
 * Request schemas of the webhook API (strict: unknown fields are refused). The URL's scheme and
 * host are judged by the service (webhooks.ts), which knows the deployment's network policy.
 */
export const CreateWebhookSchema = z.strictObject({
  url: z.string().max(2048, 'must be at most 2048 characters').url('must be an absolute URL'),
  events: z
    .array(z.enum(WEBHOOK_STATUSES))
    .min(1, 'must name at least one of SUCCEEDED, FAILED')
    .refine((events) => new Set(events).size === events.length, 'must not repeat an event'),
  description: z.string().trim().max(256, 'must be at most 256 characters').optional(),
});
export type CreateWebhookRequest = z.output<typeof CreateWebhookSchema>;

export const WebhookPathSchema = z.object({
  id: z.string().regex(/^whk_[0-9a-z]{26}$/, 'must be a webhook id (whk_…)'),
});

export const DeliveriesQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
});
