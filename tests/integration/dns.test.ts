/**
 * DNS per the strategy (docs/dns.md), end to end on loopback: a customer's
 * endpoints in the real endpoint store (dynalite) → the records the engine
 * generates (customerDnsRecords, and `npm run dns-records`) → served by a DNS
 * stand-in on UDP that answers failover pairs as Route 53 does → the bucket
 * resolver (core/dns/resolve-bucket.ts) finding each region's bucket, and the
 * other region's after a failover.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DynamoAuditLog } from '../../core/adapters/dynamodb/audit-log';
import { DynamoEndpointStore } from '../../core/adapters/dynamodb/endpoint-store';
import { customerDnsRecords } from '../../core/control-plane/dns/customer-records';
import { BucketLookupError, resolveBucket } from '../../core/dns/resolve-bucket';
import { ManualClock } from '../../core/domain/clock';
import { type ChangeBatch, DnsRecordError, type ResourceRecordSet } from '../../core/domain/dns-records';
import type { NewEndpoint } from '../../core/domain/ports';
import { LOCAL_CREDENTIALS } from '../../local/tables';
import { type DnsStandIn, startDnsStandIn } from '../support/dns-server';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..', '..');
const WEST = 'us-gov-west-1';
const EAST = 'us-gov-east-1';
const DOMAIN = 'customers.eft.example.gov';
const CHECKS = { [WEST]: 'hc-west', [EAST]: 'hc-east' };

let dynamo: TestDynamo;
let endpoints: DynamoEndpointStore;
let dns: DnsStandIn;
const clock = new ManualClock();

beforeAll(async () => {
  dynamo = await startTestDynamo();
  endpoints = new DynamoEndpointStore(
    dynamo.db,
    dynamo.tables.endpoints,
    new DynamoAuditLog(dynamo.db, dynamo.tables.audit, clock),
    clock,
  );
  dns = await startDnsStandIn();
});
afterAll(async () => {
  await dns?.close();
  await dynamo?.close();
});

const s3 = (customerId: string, region: string, bucket: string, status: NewEndpoint['status'] = 'ACTIVE'): NewEndpoint => ({
  customerId,
  name: `${bucket} (${region})`,
  type: 'S3',
  direction: 'BOTH',
  status,
  maxConcurrency: 4,
  s3: { bucket, prefix: 'inbox/', region, bucketOwner: '111111111111' },
});
const sftp = (customerId: string, region: string, host: string): NewEndpoint => ({
  customerId,
  name: `sftp ${region}`,
  type: 'TRANSFER_FAMILY_SFTP',
  direction: 'INBOUND',
  status: 'ACTIVE',
  preferredRegion: region,
  maxConcurrency: 4,
  secretRef: 'local:secret/1',
  sftp: { host, port: 22, username: 'eft', basePath: '/', authType: 'PRIVATE_KEY' },
});

/** Creates the endpoints in order (their ids are time-ordered), one clock tick apart. */
async function register(list: NewEndpoint[]): Promise<string[]> {
  const ids: string[] = [];
  for (const endpoint of list) {
    clock.advance(1);
    ids.push((await endpoints.create(endpoint, 'operator:test')).endpointId);
  }
  return ids;
}

const recordSets = (batch: ChangeBatch): ResourceRecordSet[] => batch.Changes.map((c) => c.ResourceRecordSet);
const lookup = (customerId: string, region: typeof WEST | typeof EAST | 'primary') =>
  resolveBucket({ customerId, domain: DOMAIN, region, servers: [dns.server], timeoutMs: 2000 });

describe('per-customer records from the endpoint store, resolved through DNS', () => {
  test('each region’s name gives that region’s bucket; PRIMARY gives west’s, and east’s once west’s health check fails', async () => {
    await register([
      s3('acme', WEST, 'acme-west-inbox'),
      s3('acme', EAST, 'acme-east-inbox'),
      sftp('acme', WEST, 'sftp-west.acme.example'),
      sftp('acme', EAST, 'sftp-east.acme.example'),
      // Not the customer's bucket in a region any more: a disabled endpoint names nothing.
      s3('acme', WEST, 'acme-old-inbox', 'DISABLED'),
    ]);
    const { changeBatch, warnings } = await customerDnsRecords(endpoints, {
      customerId: 'acme',
      domain: DOMAIN,
      healthChecks: CHECKS,
    });
    expect(warnings).toEqual([]);
    expect(recordSets(changeBatch).map((r) => `${r.Name} ${r.Type} ${r.Failover ?? '-'}`)).toEqual([
      `sftp-west.acme.${DOMAIN} CNAME -`,
      `sftp-east.acme.${DOMAIN} CNAME -`,
      `sftp.acme.${DOMAIN} CNAME PRIMARY`,
      `sftp.acme.${DOMAIN} CNAME SECONDARY`,
      `bucket-west.acme.${DOMAIN} TXT -`,
      `bucket-east.acme.${DOMAIN} TXT -`,
      `bucket.acme.${DOMAIN} TXT PRIMARY`,
      `bucket.acme.${DOMAIN} TXT SECONDARY`,
    ]);
    dns.upsert(recordSets(changeBatch));

    expect(await lookup('acme', WEST)).toEqual({ bucket: 'acme-west-inbox', region: WEST, name: `bucket-west.acme.${DOMAIN}` });
    expect(await lookup('acme', EAST)).toEqual({ bucket: 'acme-east-inbox', region: EAST, name: `bucket-east.acme.${DOMAIN}` });
    expect(await lookup('acme', 'primary')).toMatchObject({ bucket: 'acme-west-inbox', region: WEST });

    dns.setHealthy('hc-west', false);
    try {
      expect(await lookup('acme', 'primary')).toMatchObject({ bucket: 'acme-east-inbox', region: EAST });
      // The regional names do not move: a client that must reach west still finds west's bucket.
      expect(await lookup('acme', WEST)).toMatchObject({ bucket: 'acme-west-inbox' });
    } finally {
      dns.setHealthy('hc-west', true);
    }
    // The answers came from the stand-in (TXT questions), not from any other resolver.
    expect(dns.questions).toContain(`bucket.acme.${DOMAIN} TXT`);
  });

  test('several buckets in one region: refused, naming the endpoints; choosing one with endpointIds answers', async () => {
    const [first, second, east] = await register([
      s3('twobuckets', WEST, 'tb-west-a'),
      s3('twobuckets', WEST, 'tb-west-b'),
      s3('twobuckets', EAST, 'tb-east'),
    ]);
    const attempt = customerDnsRecords(endpoints, { customerId: 'twobuckets', domain: DOMAIN });
    await expect(attempt).rejects.toThrow(DnsRecordError);
    await expect(attempt).rejects.toThrow(`several buckets in ${WEST}: ${first} (tb-west-a), ${second} (tb-west-b)`);
    const chosen = await customerDnsRecords(endpoints, {
      customerId: 'twobuckets',
      domain: DOMAIN,
      endpointIds: [second as string, east as string],
    });
    expect(recordSets(chosen.changeBatch).find((r) => r.Name.startsWith('bucket-west'))?.ResourceRecords).toEqual([
      { Value: `"v=eft1 region=${WEST} bucket=tb-west-b"` },
    ]);
    // Another customer's endpoint id is not one of this customer's.
    await expect(
      customerDnsRecords(endpoints, { customerId: 'acme', domain: DOMAIN, endpointIds: [second as string] }),
    ).rejects.toThrow(`no endpoint ${second} of customer acme`);
  });
});

describe('the resolver refuses to guess', () => {
  const txt = (name: string, ...values: string[]): ResourceRecordSet => ({
    Name: `${name}.${DOMAIN}`,
    Type: 'TXT',
    TTL: 60,
    ResourceRecords: values.map((v) => ({ Value: `"${v}"` })),
  });

  test('no record at the name: NO_RECORD, saying which name', async () => {
    const error = await lookup('nobody', WEST).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BucketLookupError);
    expect(error).toMatchObject({ reason: 'NO_RECORD', recordName: `bucket-west.nobody.${DOMAIN}` });
  });

  test('a regional name whose TXT names only the other region’s bucket (or none of eft’s): NO_BUCKET, never the other region’s', async () => {
    dns.upsert([
      txt('bucket-west.misfiled', `v=eft1 region=${EAST} bucket=misfiled-east`, 'v=spf1 -all'),
      txt('bucket-east.foreign', 'v=spf1 -all'),
    ]);
    await expect(lookup('misfiled', WEST)).rejects.toMatchObject({ reason: 'NO_BUCKET' });
    await expect(lookup('misfiled', WEST)).rejects.toThrow(`bucket-west.misfiled.${DOMAIN} name no bucket in ${WEST}`);
    await expect(lookup('foreign', EAST)).rejects.toMatchObject({ reason: 'NO_BUCKET' });
  });

  test('several buckets at one name: SEVERAL_BUCKETS naming them; the same one twice (or eft’s among others) is one', async () => {
    dns.upsert([
      txt('bucket-west.dup', `v=eft1 region=${WEST} bucket=dup-a`, `v=eft1 region=${WEST} bucket=dup-b`),
      txt('bucket-west.same', `v=eft1 region=${WEST} bucket=same-a`, `v=eft1 region=${WEST} bucket=same-a`, 'v=spf1 -all'),
    ]);
    const error = await lookup('dup', WEST).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'SEVERAL_BUCKETS' });
    expect((error as Error).message).toContain('dup-a (us-gov-west-1), dup-b (us-gov-west-1)');
    expect(await lookup('same', WEST)).toMatchObject({ bucket: 'same-a' });
  });
});

describe('npm run dns-records', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'eft-dns-records-'));
    await register([s3('script', WEST, 'script-west'), s3('script', EAST, 'script-east')]);
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** The environment the region's functions have (tables and DynamoDB endpoint), without this process's own. */
  const tablesEnv = () => ({
    ENDPOINTS_TABLE: dynamo.tables.endpoints,
    AUDIT_TABLE: dynamo.tables.audit,
    AWS_REGION: WEST,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  });
  const script = (args: string[], env: NodeJS.ProcessEnv) =>
    run(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'scripts', 'dns-records.ts'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
    });

  test('prints what the engine generates: the change batch, or with --zone-id the input of change-resource-record-sets', async () => {
    const expected = await customerDnsRecords(endpoints, { customerId: 'script', domain: DOMAIN, healthChecks: CHECKS });
    const args = ['--customer', 'script', '--domain', DOMAIN, '--west-health-check', 'hc-west', '--east-health-check', 'hc-east'];
    const { stdout, stderr } = await script(args, tablesEnv());
    expect(JSON.parse(stdout)).toEqual(expected.changeBatch);
    // No SFTP endpoints: said on stderr, never in the JSON.
    expect(stderr).toContain('warning: no SFTP endpoint of script in us-gov-west-1');
    const zoned = await script([...args, '--zone-id', 'Z0123456789'], tablesEnv());
    expect(JSON.parse(zoned.stdout)).toEqual({ HostedZoneId: 'Z0123456789', ChangeBatch: expected.changeBatch });
  });

  test('reads the local engine’s tables through its local.json when no AWS environment is set', async () => {
    const localJson = join(scratch, 'local.json');
    writeFileSync(localJson, JSON.stringify({ regions: { [WEST]: { environment: tablesEnv() } } }));
    const { stdout } = await script(['--customer', 'script', '--domain', DOMAIN, '--local', localJson], {});
    expect(recordSets(JSON.parse(stdout)).map((r) => r.Name)).toContain(`bucket-east.script.${DOMAIN}`);
  });

  test('a wrong input is said plainly, with a non-zero exit', async () => {
    const error = await script(['--customer', 'Not_A_Label', '--domain', DOMAIN], tablesEnv()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 1, stderr: expect.stringContaining('customer id "Not_A_Label" is not a DNS label') });
    const usage = await script(['--domain', DOMAIN], tablesEnv()).catch((e: unknown) => e);
    expect(usage).toMatchObject({ code: 1, stderr: expect.stringContaining('usage: npm run dns-records') });
  });
});
