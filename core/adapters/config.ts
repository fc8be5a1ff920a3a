import { ConfigurationError } from '../domain/errors';

/** A domain error (core/domain/errors.ts), re-exported for the adapters that fail on a missing setting. */
export { ConfigurationError };

/** Fail fast at cold start when the deployment forgot a setting. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (!value) throw new ConfigurationError(`environment variable ${name} is not set`);
  return value;
}

/** The tables every process uses: the functions and the worker task. */
export interface TableNames {
  endpoints: string;
  jobs: string;
  leases: string;
  audit: string;
  principals: string;
}

/** The tables of routes and schedules (issue 14): every function has their names; the worker task has neither. */
export interface TriggerTableNames {
  triggers: string;
  triggerState: string;
}

/**
 * Table names as serverless.yml passes them to every function and the worker.
 * `triggers` and `triggerState` are read when first used, not here: the worker
 * task, which never touches routes or schedules, is not given them, and a
 * function that uses them fails on the first use when its deployment forgot them.
 */
export function tableNamesFromEnv(env: NodeJS.ProcessEnv = process.env): TableNames & TriggerTableNames {
  return {
    endpoints: requireEnv('ENDPOINTS_TABLE', env),
    jobs: requireEnv('JOBS_TABLE', env),
    leases: requireEnv('LEASES_TABLE', env),
    audit: requireEnv('AUDIT_TABLE', env),
    principals: requireEnv('PRINCIPALS_TABLE', env),
    get triggers() {
      return requireEnv('TRIGGERS_TABLE', env);
    },
    get triggerState() {
      return requireEnv('TRIGGER_STATE_TABLE', env);
    },
  };
}

/** The region this code runs in; recorded on jobs and leases. */
export function currentRegion(env: NodeJS.ProcessEnv = process.env): string {
  return requireEnv('AWS_REGION', env);
}
