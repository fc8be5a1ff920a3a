/**
 * The per-customer DNS records (core/domain/dns-records.ts, docs/dns.md): names per
 * strategy R-1..R-4, TXT values the resolver reads back, failover pairs with their
 * health checks, and a change batch of UPSERTs only.
 */
import {
  bucketTxt,
  customerNames,
  customerRecords,
  DnsRecordError,
  parseBucketTxt,
  type ResourceRecordSet,
} from '../../core/domain/dns-records';

const WEST = 'us-gov-west-1';
const EAST = 'us-gov-east-1';
const full = {
  customerId: 'acme',
  domain: 'Customers.EFT.example.gov.',
  buckets: { [WEST]: 'acme-west-inbox', [EAST]: 'acme-east-inbox' },
  sftpHosts: { [WEST]: 'sftp-west.acme.example', [EAST]: 'sftp-east.acme.example' },
  primaryRegion: WEST,
  healthChecks: { [WEST]: 'hc-west', [EAST]: 'hc-east' },
} as const;

const sets = (data: Parameters<typeof customerRecords>[0]): ResourceRecordSet[] =>
  customerRecords(data).changeBatch.Changes.map((c) => c.ResourceRecordSet);

describe('per-customer DNS records', () => {
  test('East, West and PRIMARY names for the SFTP endpoint (CNAME) and the bucket (TXT), under the customer, in lower case', () => {
    const { changeBatch, warnings } = customerRecords(full);
    expect(warnings).toEqual([]);
    expect(changeBatch.Changes.every((c) => c.Action === 'UPSERT')).toBe(true);
    const summary = changeBatch.Changes.map(
      ({ ResourceRecordSet: r }) => `${r.Name} ${r.Type} ${r.Failover ?? '-'} ${r.ResourceRecords.map((v) => v.Value).join(',')}`,
    );
    expect(summary).toEqual([
      'sftp-west.acme.customers.eft.example.gov CNAME - sftp-west.acme.example',
      'sftp-east.acme.customers.eft.example.gov CNAME - sftp-east.acme.example',
      'sftp.acme.customers.eft.example.gov CNAME PRIMARY sftp-west.acme.example',
      'sftp.acme.customers.eft.example.gov CNAME SECONDARY sftp-east.acme.example',
      'bucket-west.acme.customers.eft.example.gov TXT - "v=eft1 region=us-gov-west-1 bucket=acme-west-inbox"',
      'bucket-east.acme.customers.eft.example.gov TXT - "v=eft1 region=us-gov-east-1 bucket=acme-east-inbox"',
      'bucket.acme.customers.eft.example.gov TXT PRIMARY "v=eft1 region=us-gov-west-1 bucket=acme-west-inbox"',
      'bucket.acme.customers.eft.example.gov TXT SECONDARY "v=eft1 region=us-gov-east-1 bucket=acme-east-inbox"',
    ]);
  });

  test('each side of a failover pair has its own set identifier and its region’s health check; TTL 60 everywhere', () => {
    const failover = sets(full).filter((r) => r.Failover);
    expect(failover.map((r) => [r.Name.split('.')[0], r.Failover, r.SetIdentifier, r.HealthCheckId])).toEqual([
      ['sftp', 'PRIMARY', 'acme-west', 'hc-west'],
      ['sftp', 'SECONDARY', 'acme-east', 'hc-east'],
      ['bucket', 'PRIMARY', 'acme-west', 'hc-west'],
      ['bucket', 'SECONDARY', 'acme-east', 'hc-east'],
    ]);
    expect(new Set(sets(full).map((r) => r.TTL))).toEqual(new Set([60]));
    expect(sets(full).filter((r) => !r.Failover && (r.SetIdentifier || r.HealthCheckId))).toEqual([]);
  });

  test('east as PRIMARY when asked', () => {
    const primaries = sets({ ...full, primaryRegion: EAST }).filter((r) => r.Failover === 'PRIMARY');
    expect(primaries.map((r) => r.SetIdentifier)).toEqual(['acme-east', 'acme-east']);
    expect(primaries[1]?.ResourceRecords).toEqual([{ Value: '"v=eft1 region=us-gov-east-1 bucket=acme-east-inbox"' }]);
  });

  test('without health checks the pair is still made, and the operator is told it will not fail over', () => {
    const { changeBatch, warnings } = customerRecords({ ...full, healthChecks: {} });
    expect(changeBatch.Changes.filter((c) => c.ResourceRecordSet.HealthCheckId)).toEqual([]);
    expect(warnings).toEqual([
      'no health check for us-gov-west-1, us-gov-east-1: the PRIMARY names will not fail over by themselves',
    ]);
  });

  test('a region without a bucket or SFTP endpoint: its own name is left out, and so is the PRIMARY name (a pair needs both)', () => {
    const { changeBatch, warnings } = customerRecords({ ...full, buckets: { [EAST]: 'acme-east-inbox' }, sftpHosts: {} });
    expect(changeBatch.Changes.map((c) => c.ResourceRecordSet.Name)).toEqual(['bucket-east.acme.customers.eft.example.gov']);
    expect(warnings).toEqual([
      'no SFTP endpoint of acme in us-gov-west-1: no sftp-west.acme.customers.eft.example.gov',
      'no SFTP endpoint of acme in us-gov-east-1: no sftp-east.acme.customers.eft.example.gov',
      'sftp.acme.customers.eft.example.gov needs one in each region: not made',
      'no bucket of acme in us-gov-west-1: no bucket-west.acme.customers.eft.example.gov',
      'bucket.acme.customers.eft.example.gov needs one in each region: not made',
    ]);
  });

  test('an SFTP host given as an address gets an A record (a CNAME cannot name an address); a pair of a name and an address is not made', () => {
    const both = sets({ ...full, sftpHosts: { [WEST]: '203.0.113.10', [EAST]: '203.0.113.20' } }).filter((r) =>
      r.Name.startsWith('sftp'),
    );
    expect(both.map((r) => `${r.Type} ${r.Failover ?? '-'}`)).toEqual(['A -', 'A -', 'A PRIMARY', 'A SECONDARY']);
    const { changeBatch, warnings } = customerRecords({
      ...full,
      sftpHosts: { [WEST]: '203.0.113.10', [EAST]: 'sftp-east.acme.example' },
    });
    expect(changeBatch.Changes.filter((c) => c.ResourceRecordSet.Name.startsWith('sftp.'))).toEqual([]);
    expect(warnings).toContain(
      'sftp.acme.customers.eft.example.gov would mix A and CNAME records (a name and an address): not made',
    );
  });

  test('a customer id or domain that cannot be a DNS name is refused, never rewritten (two ids could meet in one name)', () => {
    for (const customerId of ['Acme', 'acme_1', '-acme', 'a'.repeat(64), '', 'acme.evil']) {
      expect(() => customerNames(customerId, 'example.gov')).toThrow(DnsRecordError);
    }
    for (const domain of ['', 'exa mple.gov', 'example..gov', '-x.gov']) {
      expect(() => customerNames('acme', domain)).toThrow(DnsRecordError);
    }
    expect(() => customerNames('a'.repeat(63), `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`)).toThrow(/longer than/);
  });

  test('the TXT value reads back as written; values that are not eft’s (or miss a field) read as nothing', () => {
    expect(parseBucketTxt(bucketTxt(WEST, 'my.bucket-1'))).toEqual({ region: WEST, bucket: 'my.bucket-1' });
    expect(parseBucketTxt('v=spf1 include:example.gov -all')).toBeUndefined();
    expect(parseBucketTxt('v=eft1 region=us-gov-west-1')).toBeUndefined();
    expect(parseBucketTxt('v=eft2 region=us-gov-west-1 bucket=b')).toBeUndefined();
  });
});
