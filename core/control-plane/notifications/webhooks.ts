import type { Actor } from '../../domain/actor';
import type { Clock } from '../../domain/clock';
import { NotFoundError, ValidationError } from '../../domain/errors';
import { timeOrderedId } from '../../domain/ids';
import type { Webhook, WebhookStore } from '../../domain/notifications';
import type { SecretStore } from '../../domain/secrets';
import type { CreateWebhookRequest } from './schemas';
import { toDeletedWebhookView, toDeliveryView, toNewWebhookView, toWebhookView } from './view';

export type { Webhook, WebhookDelivery, WebhookStore } from '../../domain/notifications';

import { newSigningSecret } from './signature';

/**
 * Where webhooks may point: HTTPS only (plain http only where the deployment allows it, the local
 * runtime's receiver), and never a host the SSRF guard refuses (core/adapters/net/network-policy.ts;
 * the delivery checks what the name resolves to again, when it connects).
 */
export interface WebhookUrlPolicy {
  allowHttp: boolean;
  /** The guard's verdict on a literal host: a message when refused. */
  refuseHost(host: string): string | undefined;
}

export interface WebhookDeps {
  webhooks: WebhookStore;
  secrets: SecretStore;
  clock: Clock;
  urls: WebhookUrlPolicy;
  /** Secret names: <prefix>/<customerId>/<webhookId> (the roles are scoped to the prefix). */
  secretNamePrefix: string;
}

export function checkWebhookUrl(text: string, policy: WebhookUrlPolicy): URL {
  const url = new URL(text);
  const refuse = (message: string) => new ValidationError([{ field: 'url', message }]);
  if (url.protocol !== 'https:' && !(policy.allowHttp && url.protocol === 'http:')) throw refuse('must be an https:// URL');
  if (url.username || url.password) throw refuse('must not carry credentials');
  const refused = policy.refuseHost(url.hostname);
  if (refused) throw refuse(refused);
  return url;
}

/** POST /webhooks: the signing secret is in this answer and never again. */
export async function createWebhook(deps: WebhookDeps, caller: Actor, request: CreateWebhookRequest) {
  const url = checkWebhookUrl(request.url, deps.urls);
  const webhookId = timeOrderedId('whk', deps.clock.now());
  const secret = newSigningSecret();
  const secretRef = await deps.secrets.create(
    `${deps.secretNamePrefix}/${caller.customerId}/${webhookId}`,
    // The store keeps credentials; a signing secret is one (a shared key), in the same encrypted store.
    { password: secret },
    { customerId: caller.customerId, webhookId },
  );
  const webhook: Webhook = {
    webhookId,
    customerId: caller.customerId,
    url: url.toString(),
    events: request.events,
    ...(request.description ? { description: request.description } : {}),
    secretRef,
    createdAt: new Date(deps.clock.now()).toISOString(),
    createdBy: caller.principalArn,
  };
  try {
    await deps.webhooks.put(webhook);
  } catch (error) {
    await deps.secrets.remove(secretRef).catch(() => undefined);
    throw error;
  }
  return toNewWebhookView(webhook, secret);
}

export async function listWebhooks(deps: WebhookDeps, caller: Actor) {
  return { items: (await deps.webhooks.list(caller.customerId)).map(toWebhookView) };
}

async function ownWebhook(deps: Pick<WebhookDeps, 'webhooks'>, caller: Actor, webhookId: string): Promise<Webhook> {
  // Another customer's webhook is not found, like one that does not exist.
  const webhook = await deps.webhooks.get(caller.customerId, webhookId);
  if (!webhook) throw new NotFoundError(`no webhook ${webhookId}`);
  return webhook;
}

/** DELETE /webhooks/{id}: no more deliveries; its secret is deleted. */
export async function deleteWebhook(deps: WebhookDeps, caller: Actor, webhookId: string) {
  const webhook = await ownWebhook(deps, caller, webhookId);
  await deps.webhooks.remove(caller.customerId, webhookId);
  await deps.secrets.remove(webhook.secretRef);
  return toDeletedWebhookView(webhook);
}

/** GET /webhooks/{id}/deliveries: newest first, with status, attempts and the last HTTP status. */
export async function listDeliveries(deps: Pick<WebhookDeps, 'webhooks'>, caller: Actor, webhookId: string, limit: number) {
  await ownWebhook(deps, caller, webhookId);
  const items = await deps.webhooks.listDeliveries(caller.customerId, webhookId, limit);
  return { items: items.map(toDeliveryView) };
}
