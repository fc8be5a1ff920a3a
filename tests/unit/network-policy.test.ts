import { ConfigurationError } from '../../core/adapters/config';
import {
  categorizeAddress,
  checkLiteralHost,
  type HostResolver,
  type NetworkPolicy,
  networkPolicyFromEnv,
  parseCidr,
  type ResolvedAddress,
  vetHost,
} from '../../core/adapters/net/network-policy';
import { DnsFailureError, HostNotAllowedError } from '../../core/domain/connectivity-errors';

const NONE: NetworkPolicy = { allowedCidrs: [] };
const LOCAL: NetworkPolicy = { allowedCidrs: ['127.0.0.0/8'] };

const family = (address: string) => (address.includes(':') ? 6 : 4);

/** A resolver that answers from a table and records what it was asked. */
function fakeResolver(table: Record<string, string[]>): HostResolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: family(address) }));
  };
  return Object.assign(resolve, { asked });
}

async function refusal(promise: Promise<unknown>): Promise<HostNotAllowedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HostNotAllowedError);
  return error as HostNotAllowedError;
}

describe('categorizeAddress', () => {
  test.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['169.254.169.254', 'instance-metadata'],
    ['169.254.170.2', 'instance-metadata'],
    ['fd00:ec2::254', 'instance-metadata'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fec0::1', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['fc00::1', 'unique-local'],
    ['fdff:ffff::1', 'unique-local'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'],
    // IPv6 forms that embed an IPv4 destination are judged by it.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'instance-metadata'],
    ['::ffff:10.1.2.3', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['::ffff:0:a00:1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'instance-metadata'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:a00:1::1', 'private'],
    ['2002:7f00:1::', 'loopback'],
  ])('%s is %s', (ip, category) => {
    expect(categorizeAddress(ip)).toBe(category);
  });

  test.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '172.15.255.255',
    '172.32.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '169.253.255.255',
    '11.0.0.1',
    '2600:1f14::1',
    '2607:f8b0:4004:800::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('%s is public', (ip) => {
    expect(categorizeAddress(ip)).toBeUndefined();
  });
});

describe('parseCidr and networkPolicyFromEnv', () => {
  test('reads comma-separated CIDRs, trimming spaces and ignoring empty entries', () => {
    expect(networkPolicyFromEnv({ EFT_ALLOWED_NETWORKS: ' 127.0.0.0/8, ::1/128 ,,10.1.0.0/16' })).toEqual({
      allowedCidrs: ['127.0.0.0/8', '::1/128', '10.1.0.0/16'],
    });
  });

  test('an unset or empty variable allows nothing extra', () => {
    expect(networkPolicyFromEnv({})).toEqual({ allowedCidrs: [] });
    expect(networkPolicyFromEnv({ EFT_ALLOWED_NETWORKS: '' })).toEqual({ allowedCidrs: [] });
  });

  test.each([
    '10.0.0.0/33',
    '10.0.0/8',
    'fd00::/129',
    'localhost',
    '10.0.0.0/8/8',
    '10.0.0.0/-1',
    '10.0.0.0/ 8',
    'fe80::1%eth0/64',
  ])('%s is refused at startup', (cidr) => {
    expect(() => networkPolicyFromEnv({ EFT_ALLOWED_NETWORKS: `127.0.0.0/8,${cidr}` })).toThrow(ConfigurationError);
    expect(() => parseCidr(cidr)).toThrow(`'${cidr}' is not a CIDR`);
  });

  test('a bare address is a single-address network', () => {
    expect(parseCidr('10.0.0.5').prefix).toBe(128);
    expect(parseCidr('fd00::5').prefix).toBe(128);
  });
});

describe('vetHost', () => {
  test('returns the address of a name that resolves to public addresses only', async () => {
    const resolve = fakeResolver({ 'sftp.partner.example': ['93.184.216.34'] });
    await expect(vetHost('sftp.partner.example', NONE, resolve)).resolves.toBe('93.184.216.34');
    expect(resolve.asked).toEqual(['sftp.partner.example']);
  });

  test('prefers an IPv4 address when the name has both families', async () => {
    const resolve = fakeResolver({ dual: ['2600:1f14::1', '93.184.216.34'] });
    await expect(vetHost('dual', NONE, resolve)).resolves.toBe('93.184.216.34');
  });

  test('returns the IPv6 address of an IPv6-only name', async () => {
    const resolve = fakeResolver({ v6: ['2600:1f14::1'] });
    await expect(vetHost('v6', NONE, resolve)).resolves.toBe('2600:1f14::1');
  });

  test('refuses a name if ANY of its addresses is internal, whatever the order', async () => {
    const resolve = fakeResolver({ a: ['93.184.216.34', '10.0.0.7'], b: ['fd00:ec2::254', '93.184.216.34'] });
    expect((await refusal(vetHost('a', NONE, resolve))).category).toBe('private');
    expect((await refusal(vetHost('b', NONE, resolve))).category).toBe('instance-metadata');
  });

  test.each([
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['169.254.169.254', 'instance-metadata'],
    ['169.254.10.10', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.20.0.1', 'private'],
    ['192.168.0.10', 'private'],
    ['100.100.100.100', 'shared'],
    ['fd12:3456::1', 'unique-local'],
    ['239.1.1.1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'instance-metadata'],
  ])('refuses a name resolving to %s (%s)', async (address, category) => {
    const resolve = fakeResolver({ 'evil.example': [address] });
    const error = await refusal(vetHost('evil.example', NONE, resolve));
    expect(error).toMatchObject({ code: 'HOST_NOT_ALLOWED', host: 'evil.example', category });
  });

  test('the message names the host and the category but not the internal address', async () => {
    const resolve = fakeResolver({ 'rebind.example': ['10.20.30.40'] });
    const error = await refusal(vetHost('rebind.example', NONE, resolve));
    expect(error.message).toContain("host 'rebind.example'");
    expect(error.message).toContain('private-network address');
    expect(error.message).not.toContain('10.20.30.40');
  });

  test('refuses a literal internal address without asking DNS', async () => {
    const resolve = fakeResolver({});
    expect((await refusal(vetHost('169.254.169.254', NONE, resolve))).category).toBe('instance-metadata');
    expect((await refusal(vetHost('[::1]', NONE, resolve))).category).toBe('loopback');
    expect(resolve.asked).toEqual([]);
  });

  test('connects to a public literal address as is, without asking DNS', async () => {
    const resolve = fakeResolver({});
    await expect(vetHost('8.8.8.8', NONE, resolve)).resolves.toBe('8.8.8.8');
    await expect(vetHost('[2600:1f14::1]', NONE, resolve)).resolves.toBe('2600:1f14::1');
    expect(resolve.asked).toEqual([]);
  });

  test.each(['0x7f.1', '2130706433', '0177.0.0.1', '127.1', '0x7f000001', '10.1'])(
    'refuses the non-canonical numeric host %s before any lookup',
    async (host) => {
      const resolve = fakeResolver({});
      expect((await refusal(vetHost(host, LOCAL, resolve))).category).toBe('non-canonical');
      expect(resolve.asked).toEqual([]);
    },
  );

  test('an allowed network lets its addresses through, also in IPv4-mapped form', async () => {
    const resolve = fakeResolver({ here: ['127.0.0.1'], 'mapped-here': ['::ffff:127.0.0.1'] });
    await expect(vetHost('here', LOCAL, resolve)).resolves.toBe('127.0.0.1');
    await expect(vetHost('mapped-here', LOCAL, resolve)).resolves.toBe('::ffff:127.0.0.1');
    await expect(vetHost('127.0.0.2', LOCAL, resolve)).resolves.toBe('127.0.0.2');
  });

  test('an allowed network does not let other blocked ranges through', async () => {
    const resolve = fakeResolver({ both: ['127.0.0.1', '::1'], meta: ['169.254.169.254'] });
    expect((await refusal(vetHost('both', LOCAL, resolve))).category).toBe('loopback');
    expect((await refusal(vetHost('meta', LOCAL, resolve))).category).toBe('instance-metadata');
    await expect(vetHost('both', { allowedCidrs: ['127.0.0.0/8', '::1/128'] }, resolve)).resolves.toBe('127.0.0.1');
  });

  test('an allowed private subnet is reachable, its neighbours are not', async () => {
    const policy = { allowedCidrs: ['10.50.0.0/16'] };
    const resolve = fakeResolver({ inside: ['10.50.3.4'], outside: ['10.51.0.1'] });
    await expect(vetHost('inside', policy, resolve)).resolves.toBe('10.50.3.4');
    expect((await refusal(vetHost('outside', policy, resolve))).category).toBe('private');
  });

  test('a name that does not resolve is a DNS failure naming the host', async () => {
    const error = await vetHost('nowhere.example', NONE, fakeResolver({})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DnsFailureError);
    expect(error).toMatchObject({ code: 'DNS_FAILURE', host: 'nowhere.example' });
    expect((error as Error).message).toBe(
      "could not resolve host 'nowhere.example': no such host; check the spelling and that the name is in public DNS",
    );
  });

  test('a temporary DNS failure says so', async () => {
    const resolve: HostResolver = async () => {
      throw Object.assign(new Error('getaddrinfo EAI_AGAIN x'), { code: 'EAI_AGAIN' });
    };
    await expect(vetHost('x.example', NONE, resolve)).rejects.toThrow(/failed temporarily/);
  });

  test('an empty or malformed DNS answer is a DNS failure, never a connection to something', async () => {
    await expect(vetHost('empty.example', NONE, async () => [])).rejects.toBeInstanceOf(DnsFailureError);
    const garbage: HostResolver = async () => [{ address: 'not-an-ip', family: 4 }];
    await expect(vetHost('garbage.example', NONE, garbage)).rejects.toThrow(/not an IP address/);
  });

  test('local names are refused before resolution unless their network is allowed', async () => {
    const resolve = fakeResolver({ localhost: ['127.0.0.1'] });
    expect((await refusal(vetHost('localhost', NONE, resolve))).category).toBe('loopback');
    expect(resolve.asked).toEqual([]);
    await expect(vetHost('localhost', LOCAL, resolve)).resolves.toBe('127.0.0.1');
  });
});

describe('checkLiteralHost', () => {
  test.each([
    ['169.254.169.254', 'instance-metadata'],
    ['127.0.0.1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['0.0.0.0', 'unspecified'],
    ['localhost', 'loopback'],
    ['LOCALHOST.', 'loopback'],
    ['localhost.localdomain', 'loopback'],
    ['anything.localhost', 'loopback'],
    ['ip6-localhost', 'loopback'],
    ['instance-data', 'instance-metadata'],
    ['instance-data.ec2.internal', 'instance-metadata'],
    ['Instance-Data.us-gov-west-1.compute.internal', 'instance-metadata'],
    ['0x7f.1', 'non-canonical'],
    ['2130706433', 'non-canonical'],
    ['0177.0.0.1', 'non-canonical'],
    ['127.1', 'non-canonical'],
  ])('refuses %s (%s)', (host, category) => {
    const result = checkLiteralHost(host);
    expect(result).toMatchObject({ ok: false, category });
    expect(result.ok === false && result.message).toContain(`host '${host}'`);
  });

  test.each([
    'sftp.partner.example',
    '8.8.8.8',
    '[2600:1f14::1]',
    'localhost-sftp.example',
    '10.0.0.1.nip.io',
    'metadata-sftp.example',
  ])('lets %s through (names are judged by what they resolve to, at connect time)', (host) => {
    expect(checkLiteralHost(host)).toEqual({ ok: true });
  });

  test('honours the allow-list, so a local deployment can use loopback endpoints', () => {
    expect(checkLiteralHost('127.0.0.1', LOCAL)).toEqual({ ok: true });
    expect(checkLiteralHost('localhost', LOCAL)).toEqual({ ok: true });
    expect(checkLiteralHost('169.254.169.254', LOCAL)).toMatchObject({ ok: false, category: 'instance-metadata' });
    expect(checkLiteralHost('0x7f.1', LOCAL)).toMatchObject({ ok: false, category: 'non-canonical' });
  });
});
