import { DeleteItemCommand, type DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Webhook, WebhookDelivery, WebhookStore } from '../../domain/notifications';
import { isConditionFailed } from './client';

const webhookKey = (webhookId: string) => `webhook#${webhookId}`;
const deliveryKey = (webhookId: string, deliveryId: string) => `delivery#${webhookId}#${deliveryId}`;

/** A webhook has at most this many deliveries listed, and a customer this many webhooks read at a time. */
const MAX_WEBHOOKS = 100;

/**
 * The webhooks table (a global table, resources/notifications-tables.yml), keyed by (customerId,
 * itemId): a customer's webhooks (webhook#<id>) and their delivery log (delivery#<webhookId>#<id>).
 * Every read and write names the customer, so one customer's request never reaches another's.
 */
export class DynamoWebhookStore implements WebhookStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
  ) {}

  async put(webhook: Webhook): Promise<void> {
    await this.db.send(
      new PutItemCommand({
        TableName: this.table,
        Item: marshall({ ...webhook, itemId: webhookKey(webhook.webhookId) }, { removeUndefinedValues: true }),
        ConditionExpression: 'attribute_not_exists(itemId)',
      }),
    );
  }

  async get(customerId: string, webhookId: string): Promise<Webhook | undefined> {
    const result = await this.db.send(
      new GetItemCommand({
        TableName: this.table,
        Key: marshall({ customerId, itemId: webhookKey(webhookId) }),
        ConsistentRead: true,
      }),
    );
    return result.Item ? strip<Webhook>(unmarshall(result.Item)) : undefined;
  }

  async list(customerId: string): Promise<Webhook[]> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'customerId = :customerId AND begins_with(itemId, :prefix)',
        ExpressionAttributeValues: marshall({ ':customerId': customerId, ':prefix': 'webhook#' }),
        Limit: MAX_WEBHOOKS,
      }),
    );
    return (result.Items ?? []).map((item) => strip<Webhook>(unmarshall(item)));
  }

  async remove(customerId: string, webhookId: string): Promise<void> {
    await this.db.send(
      new DeleteItemCommand({ TableName: this.table, Key: marshall({ customerId, itemId: webhookKey(webhookId) }) }),
    );
  }

  async createDelivery(delivery: WebhookDelivery): Promise<boolean> {
    try {
      await this.db.send(
        new PutItemCommand({
          TableName: this.table,
          Item: deliveryItem(delivery),
          ConditionExpression: 'attribute_not_exists(itemId)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  async getDelivery(customerId: string, webhookId: string, deliveryId: string): Promise<WebhookDelivery | undefined> {
    const result = await this.db.send(
      new GetItemCommand({
        TableName: this.table,
        Key: marshall({ customerId, itemId: deliveryKey(webhookId, deliveryId) }),
        ConsistentRead: true,
      }),
    );
    return result.Item ? strip<WebhookDelivery>(unmarshall(result.Item)) : undefined;
  }

  async saveDelivery(delivery: WebhookDelivery): Promise<void> {
    await this.db.send(
      new PutItemCommand({
        TableName: this.table,
        Item: deliveryItem(delivery),
      }),
    );
  }

  async listDeliveries(customerId: string, webhookId: string, limit: number): Promise<WebhookDelivery[]> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'customerId = :customerId AND begins_with(itemId, :prefix)',
        ExpressionAttributeValues: marshall({ ':customerId': customerId, ':prefix': `delivery#${webhookId}#` }),
        // Delivery ids start with the change's time: newest first.
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (result.Items ?? []).map((item) => strip<WebhookDelivery>(unmarshall(item)));
  }
}

function strip<T>(item: Record<string, unknown>): T {
  const { itemId: _itemId, ...rest } = item;
  return rest as T;
}

/** A delivery as its item: the delivery's fields, keyed under its webhook. */
function deliveryItem(delivery: WebhookDelivery) {
  return marshall({ ...delivery, itemId: deliveryKey(delivery.webhookId, delivery.deliveryId) }, { removeUndefinedValues: true });
}
