import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { CustomResourceReply } from '../../domain/custom-resource';
import type { Logger } from '../../observability/logger';

export interface JobsStreamResourceDeps {
  /** The ARN of the table's current stream in this region. */
  streamArnOf: (table: string) => Promise<string>;
  reply: (event: CloudFormationCustomResourceEvent, reply: CustomResourceReply) => Promise<void>;
  logger: Logger;
}

/**
 * A CloudFormation custom resource (Custom::JobsStream, resources/notifications.yml): the ARN of
 * the jobs table's stream in this region, for publishJobEvents' event source mapping. Needed
 * because the table is the west stack's global table: the east stack cannot Fn::GetAtt it, and a
 * replica's stream ARN ends in a creation time, so it cannot be built from the name either.
 * Deleting the resource deletes nothing. A failure is answered FAILED (the stack rolls back
 * instead of waiting an hour for an answer).
 */
export async function answerJobsStreamResource(
  deps: JobsStreamResourceDeps,
  event: CloudFormationCustomResourceEvent,
  logStreamName: string,
): Promise<void> {
  const table = String(event.ResourceProperties.TableName ?? '');
  let reply: CustomResourceReply;
  try {
    if (event.RequestType === 'Delete') {
      reply = { Status: 'SUCCESS', PhysicalResourceId: event.PhysicalResourceId };
    } else {
      const arn = await deps.streamArnOf(table);
      reply = { Status: 'SUCCESS', PhysicalResourceId: arn, Data: { StreamArn: arn } };
    }
  } catch (error) {
    deps.logger.error('jobs stream lookup failed', { table, error });
    reply = {
      Status: 'FAILED',
      Reason: `${(error as Error).message} (log stream ${logStreamName})`,
      PhysicalResourceId: 'PhysicalResourceId' in event ? event.PhysicalResourceId : `jobs-stream-${table}`,
    };
  }
  await deps.reply(event, reply);
}
