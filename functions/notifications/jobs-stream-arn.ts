import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { createDynamoClient } from '../../core/adapters/dynamodb/client';
import { latestStreamArn } from '../../core/adapters/dynamodb/stream-arn';
import { createLogger } from '../../core/observability/logger';

/**
 * A CloudFormation custom resource (Custom::JobsStream, resources/notifications.yml): the ARN of
 * the jobs table's stream in this region, for publishJobEvents' event source mapping. Needed
 * because the table is the west stack's global table: the east stack cannot Fn::GetAtt it, and a
 * replica's stream ARN ends in a creation time, so it cannot be built from the name either.
 * Deleting the resource deletes nothing.
 */
const db = createDynamoClient();
const logger = createLogger({ service: 'eft-jobs-stream', region: process.env.AWS_REGION });

export async function handler(event: CloudFormationCustomResourceEvent, context: Context): Promise<void> {
  const table = String(event.ResourceProperties.TableName ?? '');
  let reply: { Status: 'SUCCESS' | 'FAILED'; Reason?: string; PhysicalResourceId: string; Data?: Record<string, string> };
  try {
    if (event.RequestType === 'Delete') {
      reply = { Status: 'SUCCESS', PhysicalResourceId: event.PhysicalResourceId };
    } else {
      const arn = await latestStreamArn(db, table);
      reply = { Status: 'SUCCESS', PhysicalResourceId: arn, Data: { StreamArn: arn } };
    }
  } catch (error) {
    logger.error('jobs stream lookup failed', { table, error });
    reply = {
      Status: 'FAILED',
      Reason: `${(error as Error).message} (log stream ${context.logStreamName})`,
      PhysicalResourceId: 'PhysicalResourceId' in event ? event.PhysicalResourceId : `jobs-stream-${table}`,
    };
  }
  const body = JSON.stringify({
    ...reply,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
  // The response URL is a presigned S3 PUT: no content type (it is not part of the signature).
  const response = await fetch(event.ResponseURL, { method: 'PUT', body, headers: { 'content-type': '' } });
  if (!response.ok) throw new Error(`CloudFormation did not take the answer: HTTP ${response.status}`);
}
