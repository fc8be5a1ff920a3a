import middy from '@middy/core';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { publishJobStream } from '../../core/control-plane/notifications/publish-stream';
import { buildJobEventPublisher } from '../../core/runtime/notifications';

/** The jobs table's stream to EventBridge and webhooks (core/control-plane/notifications/publish-stream.ts). */
const deps = buildJobEventPublisher();

export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse, Error, Context>().handler((event, context) =>
  publishJobStream(deps, event, context),
);
