/**
 * The worker's whole environment, parsed by its entry point (main.ts): the
 * data plane sees only the result (what to run, the lease, the tunables).
 */
import { z } from 'zod';
import type { TableNames } from '../core/adapters/config';
import { type NetworkPolicy, networkPolicyFromEnv } from '../core/adapters/net/network-policy';
import { configurationError, TUNABLE_VARIABLES, tunablesOf } from '../core/data-plane/config';
import type { JobKey } from '../core/domain/ports';
import { JobOverrideSchema, jsonText, LeaseOverrideSchema } from './overrides';

const required = z.string('is not set').min(1, 'is not set');

/** EFT_ALLOWED_NETWORKS as the network policy reads it (comma-separated CIDRs); an entry that is none is named. */
const allowedNetworks = z
  .string()
  .optional()
  .transform((text, ctx): NetworkPolicy => {
    try {
      return networkPolicyFromEnv({ EFT_ALLOWED_NETWORKS: text });
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `is not a list of CIDRs (${(error as Error).message})` });
      return z.NEVER;
    }
  });

/**
 * Variables required only in some cases become required ('' when unset) or
 * absent here, so the object schema reports every problem at once, by name.
 */
function withConditionalVariables(env: unknown): unknown {
  const vars = env as Record<string, string | undefined>;
  return {
    ...vars,
    // A batch execution (its input lists the jobs) wins; only without one is EFT_JOB read.
    EFT_JOB: vars.EFT_BATCH_EXECUTION ? undefined : (vars.EFT_JOB ?? ''),
    // The local runtime keeps endpoint credentials in files; in AWS, Secrets Manager with the stack's key.
    SECRETS_KMS_KEY_ID: vars.EFT_LOCAL_SECRETS_DIR ? undefined : (vars.SECRETS_KMS_KEY_ID ?? ''),
  };
}

/** What the worker runs: one job, or the jobs a batch execution's input lists. */
export type WorkerWork = { kind: 'job'; job: JobKey } | { kind: 'batch'; executionArn: string };

/** No job means a batch execution was named (withConditionalVariables requires EFT_JOB otherwise). */
function workOf(job: JobKey | undefined, batchExecution: string | undefined): WorkerWork {
  return job ? { kind: 'job', job } : { kind: 'batch', executionArn: String(batchExecution) };
}

/**
 * Everything the worker reads from its environment (resources/worker.yml, the
 * state machine's container overrides, the local runtime's stand-ins), checked
 * at once when it starts so a wrong variable is named before any work begins.
 * The adapters (stores, secrets, S3 clients) are still built from the
 * environment; this makes sure what they read is there.
 */
export const WorkerSettingsSchema = z.preprocess(
  withConditionalVariables,
  z
    .object({
      EFT_BATCH_EXECUTION: z.string().optional(),
      EFT_JOB: jsonText(JobOverrideSchema).optional(),
      EFT_LEASE: jsonText(LeaseOverrideSchema),
      AWS_REGION: required,
      ENDPOINTS_TABLE: required,
      JOBS_TABLE: required,
      LEASES_TABLE: required,
      AUDIT_TABLE: required,
      PRINCIPALS_TABLE: required,
      STAGING_BUCKET: required,
      ENGINE_ACCOUNT_ID: required,
      SECRETS_KMS_KEY_ID: required.optional(),
      EFT_LOCAL_SECRETS_DIR: z.string().optional(),
      EFT_ALLOWED_NETWORKS: allowedNetworks,
      /** How soon a crashed holder's partner session slot is free again (core/runtime/wiring.ts sessionSlotTtlMs). */
      EFT_SESSION_SLOT_TTL_MS: z.coerce.number('must be a positive integer').int().min(1).optional(),
      ...TUNABLE_VARIABLES,
    })
    .transform((env) => ({
      work: workOf(env.EFT_JOB, env.EFT_BATCH_EXECUTION),
      lease: env.EFT_LEASE,
      config: tunablesOf(env),
      region: env.AWS_REGION,
      tables: {
        endpoints: env.ENDPOINTS_TABLE,
        jobs: env.JOBS_TABLE,
        leases: env.LEASES_TABLE,
        audit: env.AUDIT_TABLE,
        principals: env.PRINCIPALS_TABLE,
      } satisfies TableNames,
      /** The region's staging bucket, owned by the engine's own account (every request names the owner). */
      staging: { bucket: env.STAGING_BUCKET, owner: env.ENGINE_ACCOUNT_ID },
      networkPolicy: env.EFT_ALLOWED_NETWORKS,
    })),
);

export type WorkerSettings = z.output<typeof WorkerSettingsSchema>;

/** The worker's settings, parsed once at startup; every problem is reported at once, by variable. */
export function workerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const result = WorkerSettingsSchema.safeParse(env);
  if (!result.success) throw configurationError(result.error);
  return result.data;
}
