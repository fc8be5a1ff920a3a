import { httpApi } from '../../core/control-plane/http/api';
import { WebhookPathSchema } from '../../core/control-plane/notifications/schemas';
import { deleteWebhook } from '../../core/control-plane/notifications/webhooks';
import { buildWebhookApi } from '../../core/runtime/notifications';

const { deps, principals } = buildWebhookApi();

/** DELETE /webhooks/{id}: no more deliveries, and its secret is deleted. */
export const handler = httpApi({ principals, path: WebhookPathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: await deleteWebhook(deps, caller, path.id),
}));
