import { httpApi } from '../../core/control-plane/http/api';
import { DeliveriesQuerySchema, WebhookPathSchema } from '../../core/control-plane/notifications/schemas';
import { listDeliveries } from '../../core/control-plane/notifications/webhooks';
import { buildWebhookApi } from '../../core/runtime/notifications';

const { deps, principals } = buildWebhookApi();

/** GET /webhooks/{id}/deliveries?limit=: the delivery log, newest first. */
export const handler = httpApi(
  { principals, path: WebhookPathSchema, query: DeliveriesQuerySchema },
  async ({ caller, path, query }) => ({ status: 200, body: await listDeliveries(deps, caller, path.id, query.limit) }),
);
