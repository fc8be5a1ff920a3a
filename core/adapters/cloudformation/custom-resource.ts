import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { CustomResourceReply } from '../../domain/custom-resource';

/** Sends the reply to the event's response URL, a presigned S3 PUT. */
export async function sendCustomResourceReply(
  event: CloudFormationCustomResourceEvent,
  reply: CustomResourceReply,
): Promise<void> {
  const body = JSON.stringify({
    ...reply,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
  // No content type: it is not part of the presigned URL's signature.
  const response = await fetch(event.ResponseURL, { method: 'PUT', body, headers: { 'content-type': '' } });
  if (!response.ok) throw new Error(`CloudFormation did not take the answer: HTTP ${response.status}`);
}
