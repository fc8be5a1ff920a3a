import { traced } from './tracer';

/**
 * SDK client settings taken from a function's environment. In AWS this is
 * process.env and yields the defaults; the local runtime hands each simulated
 * region its own environment (endpoints of the emulators, local credentials),
 * so two regions can live in one process.
 *
 * FIPS (README "FIPS endpoints"): AWS_USE_FIPS_ENDPOINT=true, set for every
 * function and the worker, makes every client resolve its region's FIPS
 * endpoint. Always passed explicitly, so a client never falls back to reading
 * process.env on its own. An explicit endpoint (AWS_ENDPOINT_URL_*, the local
 * stand-ins) wins: the SDK refuses FIPS together with a custom endpoint.
 */
export function awsClientConfig(
  service: 'DYNAMODB' | 'S3' | 'SECRETS_MANAGER' | 'SFN' | 'ECS' | 'SQS' | 'EVENTBRIDGE',
  env: NodeJS.ProcessEnv,
) {
  const endpoint = env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  return {
    region: env.AWS_REGION,
    ...(endpoint ? { endpoint, useFipsEndpoint: false } : { useFipsEndpoint: useFipsEndpoint(env) }),
    ...(accessKeyId && secretAccessKey
      ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
      : {}),
  };
}

/** AWS_USE_FIPS_ENDPOINT as the SDK spells it; anything else (a typo) stops the process rather than quietly leaving FIPS off. */
function useFipsEndpoint(env: NodeJS.ProcessEnv): boolean {
  const value = env.AWS_USE_FIPS_ENDPOINT;
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw new Error(`AWS_USE_FIPS_ENDPOINT must be "true" or "false", not ${JSON.stringify(value)}`);
}

/**
 * A client as the engine builds every one: without the SDK's logging (below),
 * its calls traced by X-Ray in Lambda (tracer.ts; a no-op
 * elsewhere).
 */
export function engineClient<C extends { middlewareStack: { remove(name: string): boolean } }>(client: C): C {
  return traced(withoutSdkLogging(client));
}

/**
 * Drops the SDK's logger middleware from a client. The engine never gives the
 * SDK a logger, yet that middleware filters every call's input and output
 * through the operation schema (redacting sensitive members) before handing
 * them to the no-op logger: about a tenth of the SDK's CPU per DynamoDB call.
 * The engine logs what it does itself (core/observability/logger.ts).
 */
export function withoutSdkLogging<C extends { middlewareStack: { remove(name: string): boolean } }>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}
