import { SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig, withoutSdkLogging } from '../aws-client-config';

/**
 * The service name awsClientConfig reads AWS_ENDPOINT_URL_SQS with (the local
 * SQS stand-in). Cast until aws-client-config.ts lists 'SQS' among its services
 * (it builds the variable's name from the string, so SQS already works).
 */
const SQS = 'SQS' as Parameters<typeof awsClientConfig>[0];

/** One client per process (or per simulated region locally), built from the function's environment. */
export function createSqsClient(env: NodeJS.ProcessEnv = process.env): SQSClient {
  return withoutSdkLogging(new SQSClient(awsClientConfig(SQS, env)));
}
