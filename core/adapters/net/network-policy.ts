/**
 * SSRF guard. Customers name the hosts the engine connects to, so a host must
 * never lead the engine to itself, the instance/task metadata services, or
 * the private networks it runs in, unless the operator allows such a network
 * explicitly (EFT_ALLOWED_NETWORKS; the local runtime allows 127.0.0.0/8).
 *
 * Two checks:
 * - `checkLiteralHost` (synchronous, at input time): literal IP addresses,
 *   non-canonical numeric hosts and well-known local names.
 * - `vetHost` (at connect time): resolves the name and refuses it if ANY of its
 *   addresses is forbidden; the caller then connects to the returned address,
 *   not to the name again, so DNS cannot answer differently in between
 *   (DNS rebinding).
 *
 * Addresses are handled as 16 bytes; an IPv4 address a.b.c.d is ::ffff:a.b.c.d,
 * so one table of ranges covers both families, and an IPv4 allow-list entry
 * also covers the IPv4-mapped form of its addresses. IPv6 forms that embed an
 * IPv4 destination (mapped, compatible, SIIT, NAT64 64:ff9b::/96, 6to4) are
 * judged by that IPv4 address: in a VPC with NAT64, 64:ff9b::a00:1 reaches 10.0.0.1.
 */
import { promises as dns } from 'node:dns';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { type BlockedCategory, DnsFailureError, HostNotAllowedError } from '../../domain/connectivity-errors';
import { ConfigurationError } from '../config';

/** Operator allow-list: CIDRs (or single addresses) that are reachable although they fall in a blocked category. */
export interface NetworkPolicy {
  allowedCidrs: string[];
}

/** Reads EFT_ALLOWED_NETWORKS (comma-separated CIDRs); fails fast on an entry that is not a CIDR. */
export function networkPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): NetworkPolicy {
  const allowedCidrs = (env.EFT_ALLOWED_NETWORKS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const cidr of allowedCidrs) parseCidr(cidr);
  return { allowedCidrs };
}

// ---------------------------------------------------------------------------
// Addresses and ranges

type Bytes = Uint8Array;

interface Range {
  base: Bytes;
  prefix: number;
}

function mapped(v4: Bytes): Bytes {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(v4, 12);
  return out;
}

function parseIPv4(text: string): Bytes | undefined {
  if (!isIPv4(text)) return undefined;
  return mapped(Uint8Array.from(text.split('.').map(Number)));
}

/** Parses an IPv6 address (with an optional zone "%eth0" and dotted-quad tail) into 16 bytes. */
function parseIPv6(text: string): Bytes | undefined {
  const address = text.replace(/%.*$/, '');
  if (!isIPv6(address)) return undefined;
  let groups: string[];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  let head = address;
  const tail: number[] = [];
  if (dotted?.[1]) {
    const v4 = dotted[1].split('.').map(Number);
    tail.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    head = address.slice(0, -dotted[1].length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const words: number[] = [];
  const wanted = 8 - tail.length;
  const double = head.indexOf('::');
  if (double >= 0) {
    const left = head.slice(0, double).split(':').filter(Boolean);
    const right = head
      .slice(double + 2)
      .split(':')
      .filter(Boolean);
    groups = [...left, ...Array<string>(wanted - left.length - right.length).fill('0'), ...right];
  } else {
    groups = head.split(':').filter(Boolean);
  }
  for (const g of groups) words.push(Number.parseInt(g, 16));
  words.push(...tail);
  if (words.length !== 8 || words.some((w) => Number.isNaN(w))) return undefined;
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** 16 bytes for a canonical IPv4 or IPv6 literal, else undefined. */
export function parseIp(text: string): Bytes | undefined {
  return parseIPv4(text) ?? parseIPv6(text);
}

function inRange(address: Bytes, range: Range): boolean {
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((address[i] ?? 0) & mask) !== ((range.base[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** "10.0.0.0/8", "fd00::/8" or a bare address (a /32 or /128). Throws ConfigurationError otherwise. */
export function parseCidr(cidr: string): Range {
  const [address = '', prefixText, ...rest] = cidr.trim().split('/');
  const v4 = isIPv4(address);
  const base = parseIp(address);
  const max = v4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!base || address.includes('%') || rest.length > 0 || !(prefix >= 0 && prefix <= max)) {
    throw new ConfigurationError(`'${cidr}' is not a CIDR (expected e.g. 10.0.0.0/8 or fd00::/8)`);
  }
  return { base, prefix: v4 ? prefix + 96 : prefix };
}

const r = (cidr: string): Range => parseCidr(cidr);

/** First match wins: the metadata addresses come before the link-local and unique-local ranges holding them. */
const BLOCKED_RANGES: ReadonlyArray<[Range, BlockedCategory]> = [
  // IPv4
  [r('169.254.169.254/32'), 'instance-metadata'], // EC2 instance metadata (IMDS), also Time Sync .123 is link-local
  [r('169.254.170.2/32'), 'instance-metadata'], // ECS/Fargate task metadata and credentials
  [r('0.0.0.0/8'), 'unspecified'],
  [r('127.0.0.0/8'), 'loopback'],
  [r('10.0.0.0/8'), 'private'],
  [r('172.16.0.0/12'), 'private'],
  [r('192.168.0.0/16'), 'private'],
  [r('100.64.0.0/10'), 'shared'],
  [r('169.254.0.0/16'), 'link-local'],
  [r('192.0.0.0/24'), 'reserved'], // IETF protocol assignments
  [r('192.0.2.0/24'), 'reserved'], // documentation
  [r('198.18.0.0/15'), 'reserved'], // benchmarking; some VPCs use it internally
  [r('198.51.100.0/24'), 'reserved'], // documentation
  [r('203.0.113.0/24'), 'reserved'], // documentation
  [r('224.0.0.0/4'), 'multicast'],
  [r('240.0.0.0/4'), 'reserved'], // incl. 255.255.255.255
  // IPv6
  [r('fd00:ec2::254/128'), 'instance-metadata'], // IMDS over IPv6 (Nitro)
  [r('::/128'), 'unspecified'],
  [r('::1/128'), 'loopback'],
  [r('fe80::/10'), 'link-local'],
  [r('fec0::/10'), 'private'], // deprecated site-local
  [r('fc00::/7'), 'unique-local'],
  [r('ff00::/8'), 'multicast'],
  [r('100::/64'), 'reserved'], // discard-only
  [r('64:ff9b:1::/48'), 'reserved'], // local-use NAT64 (RFC 8215)
  [r('2001::/32'), 'reserved'], // Teredo: embeds an obfuscated IPv4 address
  [r('2001:2::/48'), 'reserved'], // benchmarking
  [r('2001:db8::/32'), 'reserved'], // documentation
];

/** The IPv4 destination an IPv6 address stands for, if it is one of the forms that embed one. */
function embeddedIPv4(address: Bytes): Bytes | undefined {
  const zero = (from: number, to: number) => address.subarray(from, to).every((b) => b === 0);
  const isMapped = zero(0, 10) && address[10] === 0xff && address[11] === 0xff;
  if (isMapped) return undefined; // already the canonical form of an IPv4 address
  // ::a.b.c.d (IPv4-compatible, deprecated), except :: and ::1 which are IPv6's own.
  if (zero(0, 12) && !(zero(12, 15) && (address[15] ?? 0) <= 1)) return mapped(address.subarray(12, 16));
  // ::ffff:0:a.b.c.d (SIIT, RFC 2765)
  if (zero(0, 8) && address[8] === 0xff && address[9] === 0xff && zero(10, 12)) return mapped(address.subarray(12, 16));
  // 64:ff9b::a.b.c.d (NAT64 well-known prefix, RFC 6052)
  if (address[0] === 0x00 && address[1] === 0x64 && address[2] === 0xff && address[3] === 0x9b && zero(4, 12)) {
    return mapped(address.subarray(12, 16));
  }
  // 2002:a.b.c.d::/48 (6to4)
  if (address[0] === 0x20 && address[1] === 0x02) return mapped(address.subarray(2, 6));
  return undefined;
}

/** The blocked category of an address (16 bytes), or undefined for a public address. */
function categorize(address: Bytes): BlockedCategory | undefined {
  const inner = embeddedIPv4(address);
  if (inner) return categorize(inner);
  return BLOCKED_RANGES.find(([range]) => inRange(address, range))?.[1];
}

/** The blocked category of an IP literal, or undefined if it is public (or not an IP literal). */
export function categorizeAddress(ip: string): BlockedCategory | undefined {
  const bytes = parseIp(ip);
  return bytes ? categorize(bytes) : undefined;
}

function isAllowed(address: Bytes, policy: NetworkPolicy): boolean {
  const inner = embeddedIPv4(address);
  return policy.allowedCidrs.some((cidr) => {
    const range = parseCidr(cidr);
    return inRange(address, range) || (inner !== undefined && inRange(inner, range));
  });
}

/** The category that forbids connecting to this address under the policy, or undefined if it may be used. */
function verdict(address: Bytes, policy: NetworkPolicy): BlockedCategory | undefined {
  const category = categorize(address);
  return category && !isAllowed(address, policy) ? category : undefined;
}

// ---------------------------------------------------------------------------
// Messages

const DESCRIPTIONS: Record<BlockedCategory, string> = {
  loopback: 'a loopback address',
  'instance-metadata': 'the cloud instance metadata service',
  'link-local': 'a link-local address',
  unspecified: 'an unspecified address',
  private: 'a private-network address',
  shared: 'a carrier-grade NAT (shared) address',
  'unique-local': 'an IPv6 unique-local address',
  multicast: 'a multicast address',
  reserved: 'a reserved or special-purpose address',
  'non-canonical': 'a numeric address in a non-canonical form',
};

function refused(host: string, category: BlockedCategory, how: 'is' | 'resolves to'): HostNotAllowedError {
  const advice =
    category === 'non-canonical'
      ? 'write an IPv4 address as four decimal numbers (e.g. 192.0.2.10) or use a DNS name'
      : 'the engine does not connect to such addresses unless the operator allows that network';
  return new HostNotAllowedError(host, category, `host '${host}' ${how} ${DESCRIPTIONS[category]}: ${advice}`);
}

// ---------------------------------------------------------------------------
// Input-time check

export type LiteralHostCheck = { ok: true } | { ok: false; category: BlockedCategory; message: string };

/** Host names that mean "this machine" or its metadata service wherever they are resolved, with their address. */
const LOCAL_NAMES: ReadonlyArray<[RegExp, string]> = [
  [/^(localhost|localhost\.localdomain|.+\.localhost)$/, '127.0.0.1'],
  [/^(ip6-localhost|ip6-loopback)$/, '::1'],
  [/^instance-data(\..+)?$/, '169.254.169.254'],
];

/** Four or fewer dot-separated decimal, octal (leading 0) or hex (0x) numbers: what inet_aton accepts. */
const NUMERIC_HOST = /^(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+)){0,3}$/i;

/** Strips IPv6 brackets and one trailing dot, and lowercases. */
function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.') && !h.endsWith('..')) h = h.slice(0, -1);
  return h;
}

function checkNormalized(original: string, host: string, policy: NetworkPolicy): HostNotAllowedError | undefined {
  const literal = parseIp(host);
  if (literal) {
    const category = verdict(literal, policy);
    return category ? refused(original, category, 'is') : undefined;
  }
  if (NUMERIC_HOST.test(host)) return refused(original, 'non-canonical', 'is');
  for (const [pattern, address] of LOCAL_NAMES) {
    if (!pattern.test(host)) continue;
    const category = verdict(parseIp(address) as Bytes, policy);
    return category ? refused(original, category, 'resolves to') : undefined;
  }
  return undefined;
}

/**
 * Synchronous input-time check for request validation: refuses IP literals in
 * blocked ranges, non-canonical numeric hosts and names that always mean a
 * local or metadata address (localhost, *.localhost, instance-data…). Other
 * names pass; `vetHost` judges what they resolve to when connecting. Pass the
 * deployment's policy so allowed networks (e.g. 127.0.0.0/8 locally) pass here too.
 */
export function checkLiteralHost(host: string, policy: NetworkPolicy = { allowedCidrs: [] }): LiteralHostCheck {
  const error = checkNormalized(host, normalizeHost(host), policy);
  return error ? { ok: false, category: error.category, message: error.message } : { ok: true };
}

// ---------------------------------------------------------------------------
// Connect-time check

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a name to all its addresses (A and AAAA); injectable for tests. */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export const systemResolver: HostResolver = (hostname) => dns.lookup(hostname, { all: true, order: 'verbatim' });

const DNS_MESSAGES: Record<string, string> = {
  ENOTFOUND: 'no such host; check the spelling and that the name is in public DNS',
  ENODATA: 'the name has no IPv4 or IPv6 address',
  EAI_AGAIN: 'the DNS lookup failed temporarily; try again later',
  ESERVFAIL: 'the DNS server failed to answer; try again later',
  ETIMEOUT: 'the DNS lookup timed out; try again later',
};

/**
 * Resolves `host` and returns the address to connect to, refusing the host
 * (HostNotAllowedError) if any of its addresses is in a blocked range outside
 * the policy's allowed networks: one bad record is enough, since the
 * connection could otherwise be steered to it. IPv4 is preferred when both
 * families resolve (IPv4-only subnets are the common case in GovCloud VPCs).
 */
export async function vetHost(host: string, policy: NetworkPolicy, resolve: HostResolver = systemResolver): Promise<string> {
  const name = normalizeHost(host);
  const early = checkNormalized(host, name, policy);
  if (early) throw early;
  if (isIP(name)) return name.replace(/%.*$/, '');

  let addresses: readonly ResolvedAddress[];
  try {
    addresses = await resolve(name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
    throw new DnsFailureError(host, `could not resolve host '${host}': ${DNS_MESSAGES[code] ?? 'the DNS lookup failed'}`);
  }
  const parsed = addresses.map((a) => ({ text: a.address.replace(/%.*$/, ''), bytes: parseIp(a.address) }));
  if (parsed.length === 0) throw new DnsFailureError(host, `could not resolve host '${host}': ${DNS_MESSAGES.ENODATA}`);
  for (const { bytes } of parsed) {
    // A resolver answering with something that is not an address is not to be trusted either.
    if (!bytes) throw new DnsFailureError(host, `could not resolve host '${host}': the DNS answer was not an IP address`);
    const category = verdict(bytes, policy);
    if (category) throw refused(host, category, 'resolves to');
  }
  const chosen = parsed.find((p) => isIPv4(p.text)) ?? parsed[0];
  return (chosen as { text: string }).text;
}
