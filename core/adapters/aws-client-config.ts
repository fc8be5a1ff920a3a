/**
 * SDK client settings taken from a function's environment. In AWS this is
 * process.env and yields the defaults; the local runtime hands each simulated
 * region its own environment (endpoints of the emulators, local credentials),
 * so two regions can live in one process.
 */
export function awsClientConfig(service: 'DYNAMODB' | 'S3' | 'SECRETS_MANAGER' | 'SFN' | 'ECS', env: NodeJS.ProcessEnv) {
  const endpoint = env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  return {
    region: env.AWS_REGION,
    ...(endpoint ? { endpoint } : {}),
    ...(accessKeyId && secretAccessKey
      ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
      : {}),
  };
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
