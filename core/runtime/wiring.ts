import { currentRegion, tableNamesFromEnv } from '../adapters/config';
import { DynamoAuditLog } from '../adapters/dynamodb/audit-log';
import { createDynamoClient } from '../adapters/dynamodb/client';
import { DynamoEndpointStore } from '../adapters/dynamodb/endpoint-store';
import { DynamoJobStore } from '../adapters/dynamodb/job-store';
import { DynamoLeaseStore } from '../adapters/dynamodb/lease-store';
import { type Clock, systemClock } from '../domain/clock';

/**
 * The composition root: builds the real adapters from the environment that
 * serverless.yml (or the local runtime) gives a function. Handlers call it once
 * at module scope, so clients are built once per container, not per request.
 */
export function buildStores(env: NodeJS.ProcessEnv = process.env, clock: Clock = systemClock) {
  const tables = tableNamesFromEnv(env);
  const region = currentRegion(env);
  const db = createDynamoClient(env);
  const audit = new DynamoAuditLog(db, tables.audit, clock);
  return {
    region,
    clock,
    audit,
    jobs: new DynamoJobStore(db, tables.jobs, audit, clock),
    endpoints: new DynamoEndpointStore(db, tables.endpoints, audit, clock),
    leases: new DynamoLeaseStore(db, tables.leases, clock),
  };
}

export type Stores = ReturnType<typeof buildStores>;
