import { httpApi } from '../../core/control-plane/http/api';
import { listWebhooks } from '../../core/control-plane/notifications/webhooks';
import { buildWebhookApi } from '../../core/runtime/notifications';

const { deps, principals } = buildWebhookApi();

/** GET /webhooks: the caller's webhooks (never their secrets). */
export const handler = httpApi({ principals }, async ({ caller }) => ({ status: 200, body: await listWebhooks(deps, caller) }));
