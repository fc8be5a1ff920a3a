import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { awsClientConfig, engineClient } from '../aws-client-config';

/** One client per process (or per simulated region locally), built from the function's environment. */
export function createDynamoClient(env: NodeJS.ProcessEnv = process.env): DynamoDBClient {
  return engineClient(new DynamoDBClient({ ...awsClientConfig('DYNAMODB', env), maxAttempts: 5 }));
}

/** True for the error DynamoDB returns when a ConditionExpression is not met. */
export function isConditionFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}
