import { sendCustomResourceReply } from '../adapters/cloudformation/custom-resource';
import { requireEnv } from '../adapters/config';
import { createDynamoClient } from '../adapters/dynamodb/client';
import { jobImagesOf } from '../adapters/dynamodb/job-stream';
import { latestStreamArn } from '../adapters/dynamodb/stream-arn';
import { DynamoWebhookStore } from '../adapters/dynamodb/webhook-store';
import { createEventBridgeClient, EventBridgeJobEvents } from '../adapters/eventbridge';
import { checkLiteralHost, networkPolicyFromEnv } from '../adapters/net/network-policy';
import { HttpWebhookSender } from '../adapters/net/webhook-http';
import { createSqsClient } from '../adapters/sqs/client';
import { SqsDeliveryQueue } from '../adapters/sqs/delivery-queue';
import { DEFAULT_RETRY_POLICY, type DeliverDeps, WebhookDeliveries } from '../control-plane/notifications/deliveries';
import type { JobsStreamResourceDeps } from '../control-plane/notifications/jobs-stream-resource';
import type { WebhookDeps } from '../control-plane/notifications/webhooks';
import { systemClock } from '../domain/clock';
import { createLogger } from '../observability/logger';
import { metrics } from '../observability/metrics';
import { buildSecretStore, buildStores } from './wiring';

/**
 * The notification functions' composition root (like core/runtime/wiring.ts for the others): the
 * real adapters from the environment serverless.yml gives them, built once per container.
 */

/** Plain http:// webhook URLs: only where the deployment says so (the local runtime's receiver). */
function allowHttp(env: NodeJS.ProcessEnv): boolean {
  return env.EFT_WEBHOOK_ALLOW_HTTP === 'true';
}

function webhookStore(env: NodeJS.ProcessEnv) {
  return new DynamoWebhookStore(createDynamoClient(env), requireEnv('WEBHOOKS_TABLE', env));
}

function deliveryQueue(env: NodeJS.ProcessEnv) {
  return new SqsDeliveryQueue(createSqsClient(env), requireEnv('WEBHOOK_DELIVERIES_QUEUE_URL', env));
}

/** The webhook API handlers. */
export function buildWebhookApi(env: NodeJS.ProcessEnv = process.env) {
  const stores = buildStores(env);
  const networkPolicy = networkPolicyFromEnv(env);
  const deps: WebhookDeps = {
    webhooks: webhookStore(env),
    secrets: buildSecretStore(env),
    clock: systemClock,
    secretNamePrefix: requireEnv('WEBHOOK_SECRET_NAME_PREFIX', env),
    urls: {
      allowHttp: allowHttp(env),
      refuseHost: (host) => {
        const check = checkLiteralHost(host, networkPolicy);
        return check.ok ? undefined : check.message;
      },
    },
  };
  return { deps, principals: stores.principals };
}

/** publishJobEvents: this region's name, its default bus, and the webhook deliveries it starts. */
export function buildJobEventPublisher(env: NodeJS.ProcessEnv = process.env) {
  return {
    region: requireEnv('AWS_REGION', env),
    events: new EventBridgeJobEvents(createEventBridgeClient(env)),
    webhooks: new WebhookDeliveries({ webhooks: webhookStore(env), queue: deliveryQueue(env), clock: systemClock }),
    logger: createLogger({ service: 'eft-job-events', region: env.AWS_REGION }),
    imagesOf: jobImagesOf,
  };
}

/** lookupJobsStream (Custom::JobsStream). */
export function buildJobsStreamResource(env: NodeJS.ProcessEnv = process.env): JobsStreamResourceDeps {
  const db = createDynamoClient(env);
  return {
    streamArnOf: (table) => latestStreamArn(db, table),
    reply: sendCustomResourceReply,
    logger: createLogger({ service: 'eft-jobs-stream', region: env.AWS_REGION }),
  };
}

/** deliverWebhooks. WEBHOOK_RETRY_BASE_SECONDS and WEBHOOK_MAX_ATTEMPTS let tests retry in seconds. */
export function buildWebhookDelivery(env: NodeJS.ProcessEnv = process.env): DeliverDeps {
  return {
    webhooks: webhookStore(env),
    secrets: buildSecretStore(env),
    sender: new HttpWebhookSender({ networkPolicy: networkPolicyFromEnv(env), allowHttp: allowHttp(env) }),
    queue: deliveryQueue(env),
    clock: systemClock,
    retry: {
      maxAttempts: Number(env.WEBHOOK_MAX_ATTEMPTS ?? DEFAULT_RETRY_POLICY.maxAttempts),
      baseDelaySeconds: Number(env.WEBHOOK_RETRY_BASE_SECONDS ?? DEFAULT_RETRY_POLICY.baseDelaySeconds),
    },
    logger: createLogger({ service: 'eft-webhooks', region: env.AWS_REGION }),
    metrics,
  };
}
