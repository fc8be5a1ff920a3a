import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * One client per process. The endpoint comes from the SDK's own
 * AWS_ENDPOINT_URL_DYNAMODB when set, which is how the local runtime points the
 * same code at its emulator.
 */
export function createDynamoClient(region?: string): DynamoDBClient {
  return new DynamoDBClient({ region, maxAttempts: 5 });
}

/** True for the error DynamoDB returns when a ConditionExpression is not met. */
export function isConditionFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}
