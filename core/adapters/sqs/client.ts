import { SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig, engineClient } from '../aws-client-config';

/**
 * One client per process (or per simulated region locally), built from the function's environment.
 * The endpoint is always passed explicitly (awsClientConfig): an SQS client without one sends to the
 * host of the queue URL, which locally names AWS, not the stand-in (AWS_ENDPOINT_URL_SQS).
 */
export function createSqsClient(env: NodeJS.ProcessEnv = process.env): SQSClient {
  return engineClient(new SQSClient(awsClientConfig('SQS', env)));
}
