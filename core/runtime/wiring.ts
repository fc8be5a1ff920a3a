import { ConfigurationError, requireEnv, tableNamesFromEnv } from '../adapters/config';
import { DriverRegistry } from '../adapters/drivers';
import { DynamoAuditLog } from '../adapters/dynamodb/audit-log';
import { createDynamoClient } from '../adapters/dynamodb/client';
import { DynamoEndpointStore } from '../adapters/dynamodb/endpoint-store';
import { DynamoJobStore } from '../adapters/dynamodb/job-store';
import { DynamoLeaseStore } from '../adapters/dynamodb/lease-store';
import { DynamoObjectEventMarks } from '../adapters/dynamodb/object-event-marks';
import { CursorCodec } from '../adapters/dynamodb/pagination';
import { DynamoPrincipalDirectory } from '../adapters/dynamodb/principal-directory';
import { DynamoSightingStore } from '../adapters/dynamodb/schedule-sightings';
import { DynamoSessionSlotStore } from '../adapters/dynamodb/session-slots';
import { DynamoRouteStore, DynamoScheduleStore } from '../adapters/dynamodb/trigger-store';
import { checkLiteralHost, type NetworkPolicy, networkPolicyFromEnv } from '../adapters/net/network-policy';
import { createS3Client, type S3ClientFor } from '../adapters/s3/client';
import { S3Driver } from '../adapters/s3/driver';
import { type S3CopyConfig, s3CopyConfigFromEnv } from '../adapters/s3/server-side-copy-config';
import { LocalFileSecretStore } from '../adapters/secrets/local-file-store';
import { SecretsManagerStore } from '../adapters/secrets/secrets-manager';
import { SftpDriver } from '../adapters/sftp/driver';
import { StepFunctionsStarter } from '../adapters/step-functions';
import type { EndpointDeps } from '../control-plane/endpoints/service';
import { CachedPrincipalDirectory } from '../control-plane/http/identity';
import type { ReconcileDeps } from '../control-plane/reconcile/reconcile';
import type { TransferDeps } from '../control-plane/transfers/service';
import { minRateSecondsFromEnv } from '../control-plane/triggers/schedule-timing';
import type { TriggerDeps } from '../control-plane/triggers/service';
import { type Clock, systemClock } from '../domain/clock';
import type { Drivers } from '../domain/drivers';
import { DEFAULT_LEASE_TTL_MS } from '../domain/lease-service';
import type { SecretStore } from '../domain/secrets';
import { DEFAULT_SLOT_TIMING, SessionSlotPool, type SessionSlots, slotOrderFor, slotTimingFor } from '../domain/session-slots';
import { withJobMetrics } from '../observability/job-metrics';
import { logger } from '../observability/logger';
import { metrics } from '../observability/metrics';

/**
 * The composition root: builds the real adapters from the environment that
 * serverless.yml (or the local runtime) gives a function. Handlers call these
 * once at module scope, so clients are built once per container, not per request.
 */
export function buildStores(env: NodeJS.ProcessEnv = process.env, clock: Clock = systemClock) {
  const tables = tableNamesFromEnv(env);
  const region = requireEnv('AWS_REGION', env);
  const db = createDynamoClient(env);
  const audit = new DynamoAuditLog(db, tables.audit, clock);
  const cursors = new CursorCodec(() => readCursorKey(env));
  const directory = new DynamoPrincipalDirectory(db, tables.principals);
  let routes: DynamoRouteStore | undefined;
  let schedules: DynamoScheduleStore | undefined;
  let sessionSlots: SessionSlots | undefined;
  let sightings: DynamoSightingStore | undefined;
  let objectEventMarks: DynamoObjectEventMarks | undefined;
  return {
    region,
    clock,
    audit,
    // Each committed change of a job publishes its metrics (job-metrics.ts).
    jobs: withJobMetrics(new DynamoJobStore(db, tables.jobs, audit, clock, cursors), metrics),
    endpoints: new DynamoEndpointStore(db, tables.endpoints, audit, clock, cursors),
    leases: new DynamoLeaseStore(db, tables.leases, clock),
    principals: new CachedPrincipalDirectory(directory, clock),
    customerAccounts: (customerId: string) => directory.accountsOf(customerId),
    /** What schedule polls remember of the files they saw (trigger-state table); built when first used. */
    get sightings(): DynamoSightingStore {
      sightings ??= new DynamoSightingStore(db, tables.triggerState);
      return sightings;
    },
    /** The highest S3 sequencer seen per key, for route ingestion (trigger-state table); built when first used. */
    get objectEventMarks(): DynamoObjectEventMarks {
      objectEventMarks ??= new DynamoObjectEventMarks(db, tables.triggerState, clock);
      return objectEventMarks;
    },
    /** The partners' session slots, on this DynamoDB client (not a second one); built when first used. */
    get sessionSlots(): SessionSlots {
      sessionSlots ??= buildSessionSlots(env, clock, db);
      return sessionSlots;
    },
    // Built when first used: the worker task, which has no TRIGGERS_TABLE, never uses them.
    get routes(): DynamoRouteStore {
      routes ??= new DynamoRouteStore(db, tables.triggers, audit, clock, cursors);
      return routes;
    },
    get schedules(): DynamoScheduleStore {
      schedules ??= new DynamoScheduleStore(db, tables.triggers, audit, clock, cursors);
      return schedules;
    },
  };
}

export type Stores = ReturnType<typeof buildStores>;

/** Secrets Manager in AWS; the local runtime's file store when EFT_LOCAL_SECRETS_DIR is set. */
export function buildSecretStore(env: NodeJS.ProcessEnv = process.env): SecretStore {
  if (env.EFT_LOCAL_SECRETS_DIR) return new LocalFileSecretStore(env.EFT_LOCAL_SECRETS_DIR);
  return new SecretsManagerStore(env, requireEnv('SECRETS_KMS_KEY_ID', env), env.PEER_REGION);
}

/**
 * The key that authenticates list cursors: the stack's secret named by
 * CURSOR_KEY_SECRET_ID (serverless.yml), read only when a listing pages, so
 * the functions that never list need no permission on it. The stores'
 * CursorCodec keeps it for the container's life.
 */
function readCursorKey(env: NodeJS.ProcessEnv): Promise<string> {
  return buildSecretStore(env).readText(requireEnv('CURSOR_KEY_SECRET_ID', env));
}

export interface DriverOptions {
  /** The S3 client for a bucket's region; by default one client (the function's) serves every bucket. */
  s3?: S3ClientFor;
  /** The worker's budget to open one SFTP session. */
  sftpConnectTimeoutMs?: number;
  /** Where SFTP sessions may connect; by default read from EFT_ALLOWED_NETWORKS. */
  networkPolicy?: NetworkPolicy;
  /** Server-side copies' part size and concurrency; by default read from COPY_* variables. */
  copyConfig?: S3CopyConfig;
  /** Where SFTP credentials are read; by default the one buildSecretStore makes. */
  secrets?: SecretStore;
  /** The partners' session slots (maxConcurrency); by default the leases table's (buildSessionSlots). */
  slots?: SessionSlots;
  /** How long validation, listing, stat and verification wait for a session slot before 503 PARTNER_BUSY. */
  slotWaitMs?: number;
}

/**
 * The partners' session slots in the leases table, shared by every function
 * and worker of both regions. EFT_SESSION_SLOT_TTL_MS is how soon a crashed
 * holder's slot is free again: by default 60 s, or the lease TTL if that is
 * shorter (sessionSlotTtlMs). The regions walk the slots from opposite ends
 * (slotOrderFor).
 */
export function buildSessionSlots(
  env: NodeJS.ProcessEnv = process.env,
  clock: Clock = systemClock,
  db = createDynamoClient(env),
): SessionSlots {
  const region = requireEnv('AWS_REGION', env);
  return new SessionSlotPool(
    new DynamoSessionSlotStore(db, tableNamesFromEnv(env).leases),
    clock,
    region,
    slotOrderFor(region, env.PEER_REGION),
    slotTimingFor(sessionSlotTtlMs(env)),
  );
}

/**
 * EFT_SESSION_SLOT_TTL_MS, else 60 s, or the lease TTL if that is shorter. Why the lease TTL bounds it:
 * a dead process's partition leases and partner session slots both lapse unrenewed, and a takeover
 * waits only for the lease. With slots outliving the lease (a lease TTL shortened below 60 s, as the
 * local failover drill's 3 s), the new holder found the partner's maxConcurrency taken by the dead
 * region's sessions and waited up to 60 s with nothing to show, its jobs RUNNING and untouched. With
 * the slot TTL ≤ the lease TTL, a dead holder's slots are free by the time its lease is.
 */
export function sessionSlotTtlMs(env: NodeJS.ProcessEnv = process.env): number {
  const explicit = positiveInteger(env, 'EFT_SESSION_SLOT_TTL_MS');
  if (explicit !== undefined) return explicit;
  const leaseTtlMs = leaseTtlMsFromEnv(env);
  return Number.isFinite(leaseTtlMs) && leaseTtlMs > 0
    ? Math.min(DEFAULT_SLOT_TIMING.ttlMs, leaseTtlMs)
    : DEFAULT_SLOT_TIMING.ttlMs;
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new ConfigurationError(`environment variable ${name} must be a positive integer`);
  return value;
}

/** A function's one client serves every bucket, whatever its region. */
function oneS3Client(env: NodeJS.ProcessEnv): S3ClientFor {
  const client = createS3Client(env);
  return () => client;
}

/** The endpoint drivers of the engine, one per kind: the functions' and the worker's. */
export function buildDrivers(env: NodeJS.ProcessEnv = process.env, options: DriverOptions = {}): Drivers {
  const s3 = options.s3 ?? oneS3Client(env);
  const slotWaitMs = options.slotWaitMs ?? positiveInteger(env, 'EFT_SESSION_SLOT_WAIT_MS');
  return new DriverRegistry([
    new S3Driver({ s3, copyConfig: options.copyConfig ?? s3CopyConfigFromEnv(env) }),
    new SftpDriver({
      secrets: options.secrets ?? buildSecretStore(env),
      networkPolicy: options.networkPolicy ?? networkPolicyFromEnv(env),
      ...(options.sftpConnectTimeoutMs ? { connectTimeoutMs: options.sftpConnectTimeoutMs } : {}),
      // Every session to a partner takes one of its endpoint's slots first (maxConcurrency, both regions).
      slots: options.slots ?? buildSessionSlots(env),
      region: requireEnv('AWS_REGION', env),
      ...(slotWaitMs !== undefined ? { slotWaitMs } : {}),
    }),
  ]);
}

/** What every endpoint API handler needs, built once per container. */
export function buildEndpointApi(env: NodeJS.ProcessEnv = process.env) {
  const stores = buildStores(env);
  const networkPolicy = networkPolicyFromEnv(env);
  // One secret store and one network policy for the service and the drivers: one client, one reading.
  const secrets = buildSecretStore(env);
  const deps: EndpointDeps = {
    endpoints: stores.endpoints,
    audit: stores.audit,
    secrets,
    drivers: buildDrivers(env, { secrets, networkPolicy, slots: stores.sessionSlots }),
    clock: stores.clock,
    secretNamePrefix: requireEnv('SECRET_NAME_PREFIX', env),
    refuseHost: (host) => {
      const check = checkLiteralHost(host, networkPolicy);
      return check.ok ? undefined : check.message;
    },
    customerAccounts: stores.customerAccounts,
    engineAccountId: requireEnv('ENGINE_ACCOUNT_ID', env),
  };
  return { deps, principals: stores.principals };
}

/**
 * What creating jobs needs (createJobsForFiles and the endpoint checks before it), whoever creates them:
 * the transfer API, route ingestion, schedule polls.
 */
export function buildJobCreation(env: NodeJS.ProcessEnv, stores: Stores): TransferDeps {
  return {
    jobs: stores.jobs,
    endpoints: stores.endpoints,
    drivers: buildDrivers(env, { slots: stores.sessionSlots }),
    executions: new StepFunctionsStarter(env, requireEnv('TRANSFER_STATE_MACHINE_ARN', env)),
    leases: stores.leases,
    leaseTtlMs: leaseTtlMsFromEnv(env),
    clock: stores.clock,
    region: stores.region,
  };
}

/** What the transfer API handlers need, built once per container. */
export function buildTransferApi(env: NodeJS.ProcessEnv = process.env) {
  const stores = buildStores(env);
  return { deps: buildJobCreation(env, stores), principals: stores.principals };
}

/** What the route and schedule API handlers need, built once per container. */
export function buildTriggerApi(env: NodeJS.ProcessEnv = process.env) {
  const stores = buildStores(env);
  const deps: TriggerDeps = {
    routes: stores.routes,
    schedules: stores.schedules,
    endpoints: stores.endpoints,
    // Only resolve and samePlace (no session, no S3 request): where a trigger's folders land.
    drivers: buildDrivers(env, { slots: stores.sessionSlots }),
    clock: stores.clock,
    minRateSeconds: minRateSecondsFromEnv(env),
  };
  return { deps, principals: stores.principals };
}

/** What the state machine's tasks need, built once per container. */
export function buildOrchestration(env: NodeJS.ProcessEnv = process.env) {
  const stores = buildStores(env);
  return {
    jobs: stores.jobs,
    endpoints: stores.endpoints,
    leases: stores.leases,
    drivers: buildDrivers(env, { slots: stores.sessionSlots }),
    region: stores.region,
    leaseTtlMs: leaseTtlMsFromEnv(env),
    // EFT_WORKER_START_MS, default the lease TTL: a region lost right after a job started is taken over
    // after 2 × TTL + a tick (about 11 minutes with a 5-minute TTL, inside the 15-minute RTO).
    workerStartMs: Number(env.EFT_WORKER_START_MS ?? leaseTtlMsFromEnv(env)),
  };
}

function leaseTtlMsFromEnv(env: NodeJS.ProcessEnv): number {
  return Number(env.EFT_LEASE_TTL_MS ?? DEFAULT_LEASE_TTL_MS);
}

/**
 * What the reconciler needs, built once per container. EFT_RECONCILE_GRACE_MS (default: the lease TTL)
 * and EFT_STUCK_AFTER_MS (default: three rounds of TTL + grace) let the local drill run in seconds.
 */
export function buildReconciler(env: NodeJS.ProcessEnv = process.env): ReconcileDeps {
  const stores = buildStores(env);
  const leaseTtlMs = leaseTtlMsFromEnv(env);
  const graceMs = Number(env.EFT_RECONCILE_GRACE_MS ?? leaseTtlMs);
  return {
    jobs: stores.jobs,
    leases: stores.leases,
    executions: new StepFunctionsStarter(env, requireEnv('TRANSFER_STATE_MACHINE_ARN', env)),
    drivers: buildDrivers(env, { slots: stores.sessionSlots }),
    clock: stores.clock,
    logger,
    graceMs,
    stuckAfterMs: Number(env.EFT_STUCK_AFTER_MS ?? 3 * (leaseTtlMs + graceMs)),
  };
}
