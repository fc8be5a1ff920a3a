/**
 * X-Ray tracing of the engine's AWS SDK calls (serverless.yml enables X-Ray for
 * the functions, provider.tracing.lambda): each client built in core/adapters is
 * captured by Powertools Tracer, so every DynamoDB, S3, SQS, Step Functions and
 * Secrets Manager call is a subsegment of the invocation's trace.
 *
 * Powertools turns the Tracer off by itself outside Lambda (AWS_EXECUTION_ENV
 * not AWS_Lambda_*) and when POWERTOOLS_TRACE_ENABLED=false: there
 * captureAWSv3Client returns the client untouched, so the local engine, the
 * tests and the Fargate worker (which has no X-Ray daemon beside it today:
 * planned) run the plain clients.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';

/** Service `eft`, as the logs and metrics name it (core/observability). */
export const tracer = new Tracer({ serviceName: 'eft' });

/** The client, its calls traced where tracing is on (in Lambda). */
export function traced<Client>(client: Client): Client {
  return tracer.captureAWSv3Client(client);
}
