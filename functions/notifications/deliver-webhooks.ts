import { attemptDelivery, type DeliveryMessage } from '../../core/control-plane/notifications/deliveries';
import { sqsBatchHandler } from '../../core/control-plane/queues/sqs-batch';
import { buildWebhookDelivery } from '../../core/runtime/notifications';

const deps = buildWebhookDelivery();

/**
 * The webhook deliveries queue: one attempt per message. A receiver's refusal is not a failure of
 * this function (the attempt queues the next, delayed); only an error of the engine's own (DynamoDB,
 * Secrets Manager, SQS) fails the message, which SQS redelivers and, at last, moves to the DLQ.
 */
export const handler = sqsBatchHandler(async (body) => {
  await attemptDelivery(deps, JSON.parse(body) as DeliveryMessage);
});
