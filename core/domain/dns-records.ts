/**
 * A customer's DNS names (spec active-active-regional-strategy.md 10.1, docs/dns.md):
 *
 * - R-1 CNAMEs of the customer's SFTP endpoint in each region, and a PRIMARY name
 *   that fails over between them: sftp-west / sftp-east / sftp .<customer>.<domain>
 * - R-2 the customer's bucket in each region (from the endpoint data; not a DNS record)
 * - R-3 TXT records naming those buckets, per region and PRIMARY:
 *   bucket-west / bucket-east / bucket .<customer>.<domain>
 * - R-4 the PRIMARY names are Route 53 failover pairs (PRIMARY in one region, SECONDARY
 *   in the other, each with its region's health check).
 *
 * Pure: the names, the TXT format (shared with the resolver, core/dns/resolve-bucket.ts)
 * and the Route 53 change batch that UPSERTs them. Nothing here calls Route 53.
 */

import { isIP } from 'node:net';

/** The engine's regions and the label each has in names. */
export const DNS_REGION_LABELS = { 'us-gov-west-1': 'west', 'us-gov-east-1': 'east' } as const;
export type DnsRegion = keyof typeof DNS_REGION_LABELS;
export const DNS_REGIONS = Object.keys(DNS_REGION_LABELS) as DnsRegion[];

export function isDnsRegion(value: string): value is DnsRegion {
  return Object.hasOwn(DNS_REGION_LABELS, value);
}

/** Short: a client retries within a minute of a failover (docs/dns.md, RTO). */
export const CUSTOMER_RECORD_TTL_SECONDS = 60;

/** Marks eft's bucket records among whatever else a name's TXT holds; a new format gets a new version. */
const TXT_VERSION = 'v=eft1';

/** A wrong input (a customer id that is no DNS label, a domain that is no name). */
export class DnsRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsRecordError';
  }
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The domain as Route 53 and the resolver should see it: lower case, no trailing dot, every label valid. */
export function normalizeDomain(domain: string): string {
  const name = domain.trim().toLowerCase().replace(/\.$/, '');
  if (!name || name.split('.').some((label) => !LABEL.test(label))) {
    throw new DnsRecordError(`domain ${JSON.stringify(domain)} is not a DNS name (labels of a-z, 0-9 and inner hyphens)`);
  }
  return name;
}

/** The customer's label: its id as is, when the id is a DNS label (ids are never rewritten: two could meet). */
export function customerLabel(customerId: string): string {
  if (!LABEL.test(customerId)) {
    throw new DnsRecordError(
      `customer id ${JSON.stringify(customerId)} is not a DNS label (1-63 of a-z, 0-9 and inner hyphens): it cannot name records`,
    );
  }
  return customerId;
}

export type NameSide = DnsRegion | 'primary';

/** The names of one customer: per region (R-1, R-3) and the failover name (PRIMARY, R-4). */
export function customerNames(
  customerId: string,
  domain: string,
): { sftp: Record<NameSide, string>; bucket: Record<NameSide, string> } {
  const base = `${customerLabel(customerId)}.${normalizeDomain(domain)}`;
  const named = (kind: string): Record<NameSide, string> => ({
    'us-gov-west-1': `${kind}-west.${base}`,
    'us-gov-east-1': `${kind}-east.${base}`,
    primary: `${kind}.${base}`,
  });
  const names = { sftp: named('sftp'), bucket: named('bucket') };
  for (const name of [...Object.values(names.sftp), ...Object.values(names.bucket)]) {
    if (name.length > 253) throw new DnsRecordError(`${name} is longer than a DNS name may be (253)`);
  }
  return names;
}

/** A bucket TXT value (without Route 53's quotes): the region travels with it, so the PRIMARY answer says where it is. */
export function bucketTxt(region: DnsRegion, bucket: string): string {
  return `${TXT_VERSION} region=${region} bucket=${bucket}`;
}

/** The bucket a TXT value names, or undefined when the value is not one of eft's (other TXT may share the name). */
export function parseBucketTxt(value: string): { region: string; bucket: string } | undefined {
  const [version, ...fields] = value.trim().split(/\s+/);
  if (version !== TXT_VERSION) return undefined;
  const entries = new Map(fields.map((field) => field.split('=', 2) as [string, string | undefined]));
  const region = entries.get('region');
  const bucket = entries.get('bucket');
  return region && bucket ? { region, bucket } : undefined;
}

/** What the engine knows of a customer, per region (core/control-plane/dns/customer-records.ts reads it from the endpoints). */
export interface CustomerDnsData {
  customerId: string;
  domain: string;
  /** The customer's bucket per region (R-2). */
  buckets: Partial<Record<DnsRegion, string>>;
  /** The host of the customer's SFTP endpoint per region (R-1). */
  sftpHosts: Partial<Record<DnsRegion, string>>;
  /** Which region answers the PRIMARY names while healthy. */
  primaryRegion: DnsRegion;
  /**
   * The Route 53 health check per region, in the partition of the zone the records go to
   * (a GovCloud check id for a GovCloud private zone, the public template's for a public zone).
   * Without them the failover pair never fails over: Route 53 takes a record without a check as healthy.
   */
  healthChecks?: Partial<Record<DnsRegion, string>>;
}

export interface ResourceRecordSet {
  Name: string;
  Type: 'CNAME' | 'A' | 'AAAA' | 'TXT';
  TTL: number;
  ResourceRecords: Array<{ Value: string }>;
  SetIdentifier?: string;
  Failover?: 'PRIMARY' | 'SECONDARY';
  HealthCheckId?: string;
}

/** Route 53's ChangeBatch (ChangeResourceRecordSets), every change an UPSERT: applying it twice changes nothing. */
export interface ChangeBatch {
  Comment: string;
  Changes: Array<{ Action: 'UPSERT'; ResourceRecordSet: ResourceRecordSet }>;
}

export interface CustomerRecords {
  changeBatch: ChangeBatch;
  /** What could not be made (a region without a bucket or an SFTP endpoint), for the operator. */
  warnings: string[];
}

/** Route 53 wants a TXT value in quotes, with " and \ escaped. */
function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The records of one kind: one per region that has a value, and the failover pair when both do. */
function recordsOf(
  kind: 'sftp' | 'bucket',
  data: CustomerDnsData,
  names: Record<NameSide, string>,
  values: Partial<Record<DnsRegion, string>>,
  warnings: string[],
): ResourceRecordSet[] {
  // A host given as an address gets an address record: a CNAME names a name.
  const typeOf = (value: string) => (kind === 'bucket' ? 'TXT' : (({ 4: 'A', 6: 'AAAA' } as const)[isIP(value)] ?? 'CNAME'));
  const valueIn = (region: DnsRegion, value: string) => (kind === 'sftp' ? value : quoted(bucketTxt(region, value)));
  const records: ResourceRecordSet[] = [];
  for (const region of DNS_REGIONS) {
    const value = values[region];
    if (value === undefined) {
      warnings.push(`no ${kind === 'sftp' ? 'SFTP endpoint' : 'bucket'} of ${data.customerId} in ${region}: no ${names[region]}`);
      continue;
    }
    records.push({
      Name: names[region],
      Type: typeOf(value),
      TTL: CUSTOMER_RECORD_TTL_SECONDS,
      ResourceRecords: [{ Value: valueIn(region, value) }],
    });
  }
  if (records.length < DNS_REGIONS.length) {
    warnings.push(`${names.primary} needs one in each region: not made`);
    return records;
  }
  const types = new Set(records.map((record) => record.Type));
  if (types.size > 1) {
    warnings.push(`${names.primary} would mix ${[...types].join(' and ')} records (a name and an address): not made`);
    return records;
  }
  for (const region of DNS_REGIONS) {
    const healthCheck = data.healthChecks?.[region];
    const value = values[region] as string;
    records.push({
      Name: names.primary,
      Type: typeOf(value),
      TTL: CUSTOMER_RECORD_TTL_SECONDS,
      SetIdentifier: `${data.customerId}-${DNS_REGION_LABELS[region]}`,
      Failover: region === data.primaryRegion ? 'PRIMARY' : 'SECONDARY',
      ...(healthCheck ? { HealthCheckId: healthCheck } : {}),
      ResourceRecords: [{ Value: valueIn(region, value) }],
    });
  }
  return records;
}

/** The customer's records (R-1, R-3, R-4) as one change batch of UPSERTs. */
export function customerRecords(data: CustomerDnsData): CustomerRecords {
  const names = customerNames(data.customerId, data.domain);
  const warnings: string[] = [];
  const missingChecks = DNS_REGIONS.filter((region) => !data.healthChecks?.[region]);
  if (missingChecks.length > 0) {
    warnings.push(`no health check for ${missingChecks.join(', ')}: the PRIMARY names will not fail over by themselves`);
  }
  const records = [
    ...recordsOf('sftp', data, names.sftp, data.sftpHosts, warnings),
    ...recordsOf('bucket', data, names.bucket, data.buckets, warnings),
  ];
  return {
    changeBatch: {
      Comment: `eft records of customer ${data.customerId} under ${normalizeDomain(data.domain)}`,
      Changes: records.map((record) => ({ Action: 'UPSERT', ResourceRecordSet: record })),
    },
    warnings,
  };
}
