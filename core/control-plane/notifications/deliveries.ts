import type { Clock } from '../../domain/clock';
import { deterministicId } from '../../domain/ids';
import type { Logger } from '../../domain/logger';
import type { Metrics } from '../../domain/metrics';
import type {
  DeliveryMessage,
  DeliveryQueue,
  SendOutcome,
  WebhookDelivery,
  WebhookSender,
  WebhookStore,
} from '../../domain/notifications';
import type { SecretStore } from '../../domain/secrets';
import { detailTypeOf, EVENT_SOURCE, isWebhookStatus, type JobChange, type JobView, type WebhookDispatcher } from './job-events';
import { SIGNATURE_HEADER, signatureHeader } from './signature';

export type { DeliveryMessage, DeliveryQueue, SendOutcome, WebhookSender } from '../../domain/notifications';

/** How often and how patiently a delivery is retried: base × 2^(attempt−1) seconds, at most 900 (SQS's longest delay). */
export interface RetryPolicy {
  maxAttempts: number;
  baseDelaySeconds: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelaySeconds: 30 };

export function retryDelaySeconds(policy: RetryPolicy, failedAttempts: number): number {
  return Math.min(900, policy.baseDelaySeconds * 2 ** Math.max(0, failedAttempts - 1));
}

/**
 * A delivery's id: the same for the same webhook, job and event (so a retried stream record finds
 * the delivery it recorded), and ordered by the change's time, so the log lists newest first.
 */
export function deliveryIdFor(webhookId: string, jobId: string, event: string, at: string): string {
  const time = Date.parse(at).toString(36).padStart(9, '0');
  return `dlv_${time}${deterministicId('d', webhookId, jobId, event).slice(2, 18)}`;
}

/** The body every attempt of a delivery sends: the EventBridge event's shape, with the delivery's id. */
export function deliveryPayload(deliveryId: string, change: JobChange, view: JobView): string {
  return JSON.stringify({
    id: deliveryId,
    source: EVENT_SOURCE,
    'detail-type': detailTypeOf(change.status),
    time: change.at,
    detail: view,
  });
}

/**
 * For a SUCCEEDED or FAILED change: one delivery per webhook of the job's customer subscribed to it,
 * recorded in the delivery log (PENDING), then queued. A delivery recorded already (the stream record
 * is being retried) is queued again only if no attempt was made yet: the attempt itself skips a
 * delivery that has ended, so a second message costs nothing.
 */
export class WebhookDeliveries implements WebhookDispatcher {
  constructor(private readonly deps: { webhooks: WebhookStore; queue: DeliveryQueue; clock: Clock }) {}

  async dispatch(change: JobChange, view: JobView): Promise<void> {
    const { status, job } = change;
    if (!isWebhookStatus(status)) return;
    const subscribed = (await this.deps.webhooks.list(job.customerId)).filter((w) => w.events.includes(status));
    for (const webhook of subscribed) {
      const deliveryId = deliveryIdFor(webhook.webhookId, job.jobId, status, change.at);
      const now = new Date(this.deps.clock.now()).toISOString();
      const delivery: WebhookDelivery = {
        deliveryId,
        webhookId: webhook.webhookId,
        customerId: job.customerId,
        jobId: job.jobId,
        event: status,
        status: 'PENDING',
        attempts: 0,
        createdAt: now,
        updatedAt: now,
        payload: deliveryPayload(deliveryId, change, view),
      };
      const created = await this.deps.webhooks.createDelivery(delivery);
      if (!created) {
        const recorded = await this.deps.webhooks.getDelivery(job.customerId, webhook.webhookId, deliveryId);
        if (!recorded || recorded.attempts > 0 || recorded.status !== 'PENDING') continue;
      }
      await this.deps.queue.send({ customerId: job.customerId, webhookId: webhook.webhookId, deliveryId }, 0);
    }
  }
}

export interface DeliverDeps {
  webhooks: WebhookStore;
  secrets: SecretStore;
  sender: WebhookSender;
  queue: DeliveryQueue;
  clock: Clock;
  retry: RetryPolicy;
  logger: Logger;
  metrics: Metrics;
}

/**
 * One attempt of a delivery: sign the body with the webhook's secret and POST it. A 2xx ends it
 * SUCCEEDED; anything else counts an attempt and, below the policy's maximum, queues the next one
 * after the backoff (a new message with a delay: the queue's own redelivery is for the function
 * failing, and ends in the DLQ); at the maximum the delivery ends FAILED. Every attempt is written
 * to the delivery log before the next is queued, so a crash in between repeats at most one attempt.
 */
export async function attemptDelivery(deps: DeliverDeps, message: DeliveryMessage): Promise<WebhookDelivery | undefined> {
  const delivery = await deps.webhooks.getDelivery(message.customerId, message.webhookId, message.deliveryId);
  if (delivery?.status !== 'PENDING') return delivery;
  const webhook = await deps.webhooks.get(message.customerId, message.webhookId);
  const nowMs = deps.clock.now();
  const now = new Date(nowMs).toISOString();
  if (!webhook) {
    // Deleted since: nothing to deliver to.
    const ended: WebhookDelivery = { ...delivery, status: 'FAILED', lastError: 'the webhook was deleted', updatedAt: now };
    await deps.webhooks.saveDelivery(ended);
    return ended;
  }
  const secret = (await deps.secrets.read(webhook.secretRef)).password ?? '';
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'eft-webhooks/1',
    [SIGNATURE_HEADER]: signatureHeader(secret, delivery.payload, Math.floor(nowMs / 1000)),
    'eft-delivery': delivery.deliveryId,
    'eft-event': `Job ${delivery.event}`,
  };
  const outcome = await deps.sender.post(webhook.url, delivery.payload, headers);
  const attempts = delivery.attempts + 1;
  const delivered = 'status' in outcome && outcome.status >= 200 && outcome.status < 300;
  const last = {
    attempts,
    lastAttemptAt: now,
    updatedAt: now,
    ...('status' in outcome ? { lastHttpStatus: outcome.status } : {}),
    ...('error' in outcome ? { lastError: outcome.error } : {}),
  };
  const fields = { deliveryId: delivery.deliveryId, webhookId: webhook.webhookId, jobId: delivery.jobId, attempts };
  if (delivered) {
    const { nextAttemptAt: _next, ...rest } = delivery;
    const done: WebhookDelivery = { ...rest, ...last, status: 'SUCCEEDED' };
    await deps.webhooks.saveDelivery(done);
    deps.logger.info('webhook delivered', { ...fields, httpStatus: done.lastHttpStatus });
    return done;
  }
  if (attempts >= deps.retry.maxAttempts) {
    const { nextAttemptAt: _next, ...rest } = delivery;
    const failed: WebhookDelivery = { ...rest, ...last, status: 'FAILED' };
    await deps.webhooks.saveDelivery(failed);
    deps.logger.warn('webhook delivery failed for good', { ...fields, ...outcomeFields(outcome) });
    deps.metrics.publish([{ name: 'WebhookDeliveryFailures', value: 1 }], {
      jobId: delivery.jobId,
      webhookId: webhook.webhookId,
    });
    return failed;
  }
  const delay = retryDelaySeconds(deps.retry, attempts);
  const pending: WebhookDelivery = { ...delivery, ...last, nextAttemptAt: new Date(nowMs + delay * 1000).toISOString() };
  await deps.webhooks.saveDelivery(pending);
  await deps.queue.send(message, delay);
  deps.logger.info('webhook delivery will be retried', { ...fields, delaySeconds: delay, ...outcomeFields(outcome) });
  return pending;
}

function outcomeFields(outcome: SendOutcome) {
  return 'status' in outcome ? { httpStatus: outcome.status } : { reason: outcome.error };
}
