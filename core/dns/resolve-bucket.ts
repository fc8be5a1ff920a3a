/**
 * Finds a customer's bucket for a region from its TXT records (docs/dns.md,
 * strategy R-3), so a client names no bucket in its code: ask for
 * us-gov-west-1, us-gov-east-1, or 'primary' (the failover name: whichever
 * region Route 53 answers while it is healthy, the other after a failover).
 *
 *     const { bucket, region } = await resolveBucket({ customerId: 'acme', domain: 'customers.eft.example.gov', region: 'primary' });
 *
 * Plain DNS (node:dns/promises); `servers` points it at given name servers
 * (tests: a stand-in on loopback) instead of the system's.
 */
import { Resolver } from 'node:dns/promises';
import { customerNames, type NameSide, parseBucketTxt } from '../domain/dns-records';

export interface ResolveBucketRequest {
  customerId: string;
  domain: string;
  region: NameSide;
  /** Name servers as `host` or `host:port` (IPv6: `[addr]:port`); default: the system's. */
  servers?: string[];
  /** Per query, in ms (node's resolver default is 5000, with retries). */
  timeoutMs?: number;
}

export interface ResolvedBucket {
  bucket: string;
  region: string;
  /** The name whose TXT named it. */
  name: string;
}

/** The TXT records name no bucket for the region, or several. `reason` tells which. */
export class BucketLookupError extends Error {
  constructor(
    message: string,
    readonly reason: 'NO_RECORD' | 'NO_BUCKET' | 'SEVERAL_BUCKETS',
    readonly recordName: string,
  ) {
    super(message);
    this.name = 'BucketLookupError';
  }
}

/** What a TXT lookup answered: each record's strings joined (a long value is split in 255-byte strings). */
async function txtOf(resolver: Resolver, name: string): Promise<string[] | undefined> {
  try {
    return (await resolver.resolveTxt(name)).map((strings) => strings.join(''));
  } catch (error) {
    // No such name, or the name has no TXT: nothing to choose from. Anything else (timeout, refused) is thrown as is.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return undefined;
    throw error;
  }
}

export async function resolveBucket(request: ResolveBucketRequest): Promise<ResolvedBucket> {
  const name = customerNames(request.customerId, request.domain).bucket[request.region];
  const resolver = new Resolver({ timeout: request.timeoutMs ?? -1, tries: 2 });
  if (request.servers) resolver.setServers(request.servers);
  const values = await txtOf(resolver, name);
  if (values === undefined) {
    throw new BucketLookupError(
      `no TXT record at ${name}: no bucket of ${request.customerId} is published there`,
      'NO_RECORD',
      name,
    );
  }
  // A regional name must name its own region's bucket; the PRIMARY name may answer either.
  const found = values
    .map(parseBucketTxt)
    .filter((b): b is { region: string; bucket: string } => b !== undefined)
    .filter((b) => request.region === 'primary' || b.region === request.region);
  const distinct = [...new Map(found.map((b) => [`${b.region} ${b.bucket}`, b])).values()];
  const [only] = distinct;
  if (only === undefined) {
    const where = request.region === 'primary' ? '' : ` in ${request.region}`;
    throw new BucketLookupError(
      `the TXT records at ${name} name no bucket${where} (found: ${JSON.stringify(values)})`,
      'NO_BUCKET',
      name,
    );
  }
  if (distinct.length > 1) {
    throw new BucketLookupError(
      `the TXT records at ${name} name several buckets: ${distinct.map((b) => `${b.bucket} (${b.region})`).join(', ')}; fix the records (one per name)`,
      'SEVERAL_BUCKETS',
      name,
    );
  }
  return { bucket: only.bucket, region: only.region, name };
}
