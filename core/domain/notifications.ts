/**
 * Customer notifications (issue 16): the ports the notification services use and the adapters
 * implement (core/adapters/eventbridge.ts, dynamodb/webhook-store.ts, sqs/delivery-queue.ts,
 * net/webhook-http.ts), and the records they exchange. The services are in
 * core/control-plane/notifications.
 */
import type { JobStatus } from './job';

/** The `source` of every event the engine publishes. */
export const EVENT_SOURCE = 'eft';

/** What an EventBridge event of a job's state change carries. */
export interface JobEvent {
  /** "Job SUCCEEDED" etc. */
  detailType: string;
  /** When the change happened (its transition's time). */
  time: string;
  /** The job as GET /jobs/{jobId} shows it. */
  detail: Record<string, unknown>;
}

/** Where the events go: the region's default event bus. */
export interface JobEventPublisher {
  publish(events: JobEvent[]): Promise<void>;
}

/** The statuses webhooks may subscribe to. */
export const WEBHOOK_STATUSES = ['SUCCEEDED', 'FAILED'] as const satisfies readonly JobStatus[];
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

/** A customer's webhook. Its signing secret is in the secret store (`secretRef`), never in the record. */
export interface Webhook {
  webhookId: string;
  customerId: string;
  url: string;
  events: WebhookStatus[];
  description?: string;
  secretRef: string;
  createdAt: string;
  createdBy: string;
}

export type DeliveryStatus = 'PENDING' | 'SUCCEEDED' | 'FAILED';

/** One event's delivery to one webhook: its log entry, and the body every attempt sends. */
export interface WebhookDelivery {
  deliveryId: string;
  webhookId: string;
  customerId: string;
  jobId: string;
  event: WebhookStatus;
  status: DeliveryStatus;
  attempts: number;
  lastHttpStatus?: number;
  lastError?: string;
  createdAt: string;
  updatedAt: string;
  lastAttemptAt?: string;
  nextAttemptAt?: string;
  /** The JSON body, fixed when the delivery is created, so every attempt sends (and signs) the same bytes. */
  payload: string;
}

export interface WebhookStore {
  put(webhook: Webhook): Promise<void>;
  get(customerId: string, webhookId: string): Promise<Webhook | undefined>;
  list(customerId: string): Promise<Webhook[]>;
  remove(customerId: string, webhookId: string): Promise<void>;
  /** Records a new delivery; false if it is recorded already (a retried stream record). */
  createDelivery(delivery: WebhookDelivery): Promise<boolean>;
  getDelivery(customerId: string, webhookId: string, deliveryId: string): Promise<WebhookDelivery | undefined>;
  saveDelivery(delivery: WebhookDelivery): Promise<void>;
  /** The webhook's deliveries, newest first. */
  listDeliveries(customerId: string, webhookId: string, limit: number): Promise<WebhookDelivery[]>;
}

/** What the deliveries queue carries: which delivery to attempt (the body is in the delivery log). */
export interface DeliveryMessage {
  customerId: string;
  webhookId: string;
  deliveryId: string;
}

export interface DeliveryQueue {
  send(message: DeliveryMessage, delaySeconds: number): Promise<void>;
}

/** What a receiver answered, or why nothing answered. */
export type SendOutcome = { status: number } | { error: string };

/** POSTs a body to a webhook's URL (SSRF-checked at connect time, timed out). */
export interface WebhookSender {
  post(url: string, body: string, headers: Record<string, string>): Promise<SendOutcome>;
}
