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
