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

/**
 * Sends a batch request (BatchGetItem, BatchWriteItem) for `items`, then again for what DynamoDB answered
 * it left unprocessed (throttling), pausing 100, 200, 400 … ms between rounds; after `rounds` rounds
 * with some still left, throws `refused(how many)`.
 */
export async function sendUntilProcessed<T>(
  items: T[],
  send: (pending: T[]) => Promise<T[] | undefined>,
  rounds: number,
  refused: (left: number) => Error,
): Promise<void> {
  let pending = items;
  for (let round = 0; pending.length > 0; round++) {
    if (round === rounds) throw refused(pending.length);
    if (round > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** round));
    pending = (await send(pending)) ?? [];
  }
}
