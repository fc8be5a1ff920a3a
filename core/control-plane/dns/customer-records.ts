/**
 * A customer's DNS records (docs/dns.md) from what the engine knows of it: its
 * ACTIVE endpoints. The bucket of a region is the bucket of the customer's S3
 * endpoint in that region (s3.region); the SFTP host of a region is that of its
 * SFTP endpoint whose preferredRegion is that region. Several candidates in a
 * region is a question only the operator can answer: an error naming them,
 * answered by choosing endpoints (`endpointIds`).
 */
import {
  type CustomerRecords,
  customerRecords,
  DNS_REGIONS,
  DnsRecordError,
  type DnsRegion,
  isDnsRegion,
} from '../../domain/dns-records';
import type { Endpoint } from '../../domain/endpoint';
import type { EndpointStore } from '../../domain/ports';

export interface CustomerRecordsRequest {
  customerId: string;
  domain: string;
  /** Default us-gov-west-1, the home region. */
  primaryRegion?: DnsRegion;
  healthChecks?: Partial<Record<DnsRegion, string>>;
  /** Only these endpoints (of the customer) are considered: picks one where a region has several. */
  endpointIds?: string[];
}

async function allEndpoints(endpoints: EndpointStore, customerId: string): Promise<Endpoint[]> {
  const all: Endpoint[] = [];
  let cursor: string | undefined;
  do {
    const page = await endpoints.list(customerId, { limit: 100, ...(cursor ? { cursor } : {}) });
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

/** The one value per region among the candidates, or an error naming the endpoints that disagree. */
function onePerRegion(
  what: string,
  candidates: Array<{ region: string; value: string; endpointId: string }>,
): Partial<Record<DnsRegion, string>> {
  const chosen: Partial<Record<DnsRegion, string>> = {};
  for (const region of DNS_REGIONS) {
    const inRegion = candidates.filter((c) => c.region === region);
    const values = new Set(inRegion.map((c) => c.value));
    if (values.size > 1) {
      throw new DnsRecordError(
        `several ${what}s in ${region}: ${inRegion.map((c) => `${c.endpointId} (${c.value})`).join(', ')}; choose one with --endpoint`,
      );
    }
    const [value] = values;
    if (value !== undefined) chosen[region] = value;
  }
  return chosen;
}

export async function customerDnsRecords(endpoints: EndpointStore, request: CustomerRecordsRequest): Promise<CustomerRecords> {
  const all = await allEndpoints(endpoints, request.customerId);
  const unknown = (request.endpointIds ?? []).filter((id) => !all.some((e) => e.endpointId === id));
  if (unknown.length > 0) throw new DnsRecordError(`no endpoint ${unknown.join(', ')} of customer ${request.customerId}`);
  const considered = all.filter(
    (e) => e.status === 'ACTIVE' && (request.endpointIds === undefined || request.endpointIds.includes(e.endpointId)),
  );
  const buckets = onePerRegion(
    'bucket',
    considered.flatMap((e) => (e.type === 'S3' ? [{ region: e.s3.region, value: e.s3.bucket, endpointId: e.endpointId }] : [])),
  );
  const sftpHosts = onePerRegion(
    'SFTP host',
    considered.flatMap((e) =>
      (e.type === 'SFTP' || e.type === 'TRANSFER_FAMILY_SFTP') && e.preferredRegion && isDnsRegion(e.preferredRegion)
        ? [{ region: e.preferredRegion, value: e.sftp.host, endpointId: e.endpointId }]
        : [],
    ),
  );
  return customerRecords({
    customerId: request.customerId,
    domain: request.domain,
    buckets,
    sftpHosts,
    primaryRegion: request.primaryRegion ?? 'us-gov-west-1',
    ...(request.healthChecks ? { healthChecks: request.healthChecks } : {}),
  });
}
