import { httpApi } from '../../core/control-plane/http/api';
import { CreateWebhookSchema } from '../../core/control-plane/notifications/schemas';
import { createWebhook } from '../../core/control-plane/notifications/webhooks';
import { buildWebhookApi } from '../../core/runtime/notifications';

const { deps, principals } = buildWebhookApi();

/** POST /webhooks: the answer carries the signing secret, this once. */
export const handler = httpApi({ principals, body: CreateWebhookSchema }, async ({ caller, body }) => ({
  status: 201,
  body: await createWebhook(deps, caller, body),
}));
