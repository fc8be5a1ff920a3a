/**
 * Prints a customer's DNS records (docs/dns.md) as a Route 53 change batch of
 * UPSERTs, made from the customer's endpoints in the engine's tables. It does
 * not call Route 53: the operator applies the output in the zone's partition.
 *
 *   npm run dns-records -- --customer <id> --domain <domain> [--zone-id <zone>]
 *       [--west-health-check <id>] [--east-health-check <id>] [--primary us-gov-east-1]
 *       [--endpoint <endpointId> ...] [--local <path of local.json>]
 *
 * With --zone-id it prints the input of `aws route53 change-resource-record-sets
 * --cli-input-json file://...`; without, the ChangeBatch alone (`--change-batch file://...`).
 * Tables: AWS when ENDPOINTS_TABLE is set (the region's function environment:
 * ENDPOINTS_TABLE, AUDIT_TABLE, AWS_REGION, credentials), else the local engine's,
 * through .eft/local.json (`npm start` writes it). Warnings go to stderr.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { requireEnv } from '../core/adapters/config';
import { DynamoAuditLog } from '../core/adapters/dynamodb/audit-log';
import { createDynamoClient } from '../core/adapters/dynamodb/client';
import { DynamoEndpointStore } from '../core/adapters/dynamodb/endpoint-store';
import { customerDnsRecords } from '../core/control-plane/dns/customer-records';
import { systemClock } from '../core/domain/clock';
import { DnsRecordError, type DnsRegion, isDnsRegion } from '../core/domain/dns-records';

const USAGE =
  'usage: npm run dns-records -- --customer <id> --domain <domain> [--zone-id <zone>] [--west-health-check <id>] ' +
  '[--east-health-check <id>] [--primary us-gov-west-1|us-gov-east-1] [--endpoint <endpointId> ...] [--local <local.json>]';

/** The environment the tables are reached with: this process's in AWS, the local engine's west region otherwise. */
async function tablesEnvironment(localJson: string | undefined): Promise<NodeJS.ProcessEnv> {
  if (process.env.ENDPOINTS_TABLE && localJson === undefined) return process.env;
  const path = localJson ?? join(__dirname, '..', '.eft', 'local.json');
  const text = await readFile(path, 'utf8').catch(() => {
    throw new DnsRecordError(
      `ENDPOINTS_TABLE is not set and ${path} cannot be read: run \`npm start\`, or set the AWS environment`,
    );
  });
  const info = JSON.parse(text) as { regions: Record<string, { environment: Record<string, string> }> };
  const environment = info.regions['us-gov-west-1']?.environment;
  if (!environment) throw new DnsRecordError(`${path} has no us-gov-west-1 region`);
  return environment;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      customer: { type: 'string' },
      domain: { type: 'string' },
      'zone-id': { type: 'string' },
      'west-health-check': { type: 'string' },
      'east-health-check': { type: 'string' },
      primary: { type: 'string' },
      endpoint: { type: 'string', multiple: true },
      local: { type: 'string' },
    },
  });
  if (!values.customer || !values.domain) throw new DnsRecordError(USAGE);
  const primary = values.primary ?? 'us-gov-west-1';
  if (!isDnsRegion(primary)) throw new DnsRecordError(`--primary must be us-gov-west-1 or us-gov-east-1, not ${primary}`);
  const healthChecks: Partial<Record<DnsRegion, string>> = {
    ...(values['west-health-check'] ? { 'us-gov-west-1': values['west-health-check'] } : {}),
    ...(values['east-health-check'] ? { 'us-gov-east-1': values['east-health-check'] } : {}),
  };

  const env = await tablesEnvironment(values.local);
  const db = createDynamoClient(env);
  try {
    const endpoints = new DynamoEndpointStore(
      db,
      requireEnv('ENDPOINTS_TABLE', env),
      new DynamoAuditLog(db, requireEnv('AUDIT_TABLE', env), systemClock),
      systemClock,
    );
    const { changeBatch, warnings } = await customerDnsRecords(endpoints, {
      customerId: values.customer,
      domain: values.domain,
      primaryRegion: primary,
      healthChecks,
      ...(values.endpoint ? { endpointIds: values.endpoint } : {}),
    });
    for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
    const output = values['zone-id'] ? { HostedZoneId: values['zone-id'], ChangeBatch: changeBatch } : changeBatch;
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } finally {
    db.destroy();
  }
}

main().catch((error: unknown) => {
  // A wrong input is said plainly; anything else (the tables unreachable) with its stack.
  process.stderr.write(
    `${error instanceof DnsRecordError ? error.message : error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exitCode = 1;
});
