/**
 * X-Ray tracing of the engine's AWS SDK calls (serverless.yml enables X-Ray for
 * the functions, provider.tracing.lambda): each client built in core/adapters is
 * captured by Powertools Tracer, so every DynamoDB, S3, SQS, Step Functions and
 * Secrets Manager call is a subsegment of the invocation's trace.
 *
 * Powertools turns the Tracer off by itself where AWS_EXECUTION_ENV is not set
 * (the local engine, the tests) and when POWERTOOLS_TRACE_ENABLED=false (the
 * Fargate worker's task definition says so: ECS sets AWS_EXECUTION_ENV, and no
 * X-Ray daemon runs beside the worker today: planned): there the clients are
 * the plain ones.
 *
 * Where it would be off, the Tracer is not even loaded: loading it loads the
 * X-Ray SDK, which in its automatic mode installs an async hook (cls-hooked,
 * with a destroy hook) on every promise and callback of the process, traced or
 * not. In a batch of small files that hook cost the worker and the local
 * region processes about a tenth of their CPU (docs/benchmarks.md, issue 18).
 */
import type { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * Whether Powertools could turn tracing on in this process: the conditions under which its Tracer
 * turns itself off (Tracer.setTracingEnabled), read the same way. When true the Tracer still decides.
 */
export function tracingPossible(env: NodeJS.ProcessEnv = process.env): boolean {
  const executionEnv = env.AWS_EXECUTION_ENV ?? '';
  if (executionEnv === '' || executionEnv === 'AWS_Lambda_amplify-mock') return false;
  if ((env.AWS_SAM_LOCAL ?? '') !== '') return false;
  return (env.POWERTOOLS_TRACE_ENABLED ?? '').toLowerCase() !== 'false';
}

let tracer: Tracer | undefined;

/** Service `eft`, as the logs and metrics name it (core/observability); loaded on first use, where tracing is possible. */
function theTracer(): Tracer {
  if (!tracer) {
    // A require, not an import: the module (and the X-Ray SDK's hook) is loaded only here.
    const powertools = require('@aws-lambda-powertools/tracer') as typeof import('@aws-lambda-powertools/tracer');
    tracer = new powertools.Tracer({ serviceName: 'eft' });
  }
  return tracer;
}

/** The client, its calls traced where tracing is on (in Lambda). */
export function traced<Client>(client: Client): Client {
  return tracingPossible() ? theTracer().captureAWSv3Client(client) : client;
}
