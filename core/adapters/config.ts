import { ConfigurationError } from '../domain/errors';

/** A domain error (core/domain/errors.ts), re-exported for the adapters that fail on a missing setting. */
export { ConfigurationError };

/** Fail fast at cold start when the deployment forgot a setting. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (!value) throw new ConfigurationError(`environment variable ${name} is not set`);
  return value;
}

export interface TableNames {
  endpoints: string;
  jobs: string;
  leases: string;
  audit: string;
  principals: string;
}

/** Table names as serverless.yml passes them to every function and the worker. */
export function tableNamesFromEnv(env: NodeJS.ProcessEnv = process.env): TableNames {
  return {
    endpoints: requireEnv('ENDPOINTS_TABLE', env),
    jobs: requireEnv('JOBS_TABLE', env),
    leases: requireEnv('LEASES_TABLE', env),
    audit: requireEnv('AUDIT_TABLE', env),
    principals: requireEnv('PRINCIPALS_TABLE', env),
  };
}

/** The region this code runs in; recorded on jobs and leases. */
export function currentRegion(env: NodeJS.ProcessEnv = process.env): string {
  return requireEnv('AWS_REGION', env);
}
