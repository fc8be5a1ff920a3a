/**
 * A DNS stand-in on loopback (UDP): answers A, AAAA, CNAME and TXT questions
 * from the records it is given, the way Route 53 would answer from a hosted
 * zone. It takes Route 53 record sets (a ChangeBatch's UPSERTs, TXT values in
 * Route 53's quoted form) and answers a failover pair as Route 53 does: the
 * PRIMARY while its health check is healthy, else the SECONDARY. Health is
 * set by hand (setHealthy): this is DNS, not a health checker.
 *
 * Enough of RFC 1035 for the engine's resolver: one question per query, no
 * recursion, no compression in questions, answers of the exact type asked
 * (no CNAME chasing), NXDOMAIN for a name it has nothing at, an empty answer
 * (NODATA) for a name that has other types. An EDNS OPT record in the query
 * is ignored and none is sent back; answers stay far below 512 bytes.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import type { ResourceRecordSet } from '../../core/domain/dns-records';

const TYPES = { A: 1, CNAME: 5, TXT: 16, AAAA: 28 } as const;
type RecordType = keyof typeof TYPES;
const CLASS_IN = 1;

export interface DnsStandIn {
  /** host:port for Resolver.setServers. */
  server: string;
  /** Adds (or replaces, by name, type and set identifier) Route 53 record sets, as an UPSERT does. */
  upsert(records: ResourceRecordSet[]): void;
  /** Marks a health check healthy or not (every check starts healthy). */
  setHealthy(healthCheckId: string, healthy: boolean): void;
  /** Questions answered so far, as "name TYPE". */
  readonly questions: string[];
  close(): Promise<void>;
}

/** Route 53's TXT value ("a" "b", with \" and \\ escapes) as its strings. */
export function txtStrings(value: string): string[] {
  const strings: string[] = [];
  const quoted = /"((?:[^"\\]|\\.)*)"/g;
  for (const match of value.matchAll(quoted)) strings.push((match[1] ?? '').replace(/\\(.)/g, '$1'));
  if (strings.length === 0) throw new Error(`not a Route 53 TXT value (quoted strings): ${value}`);
  return strings;
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])),
    Buffer.from([0]),
  ]);
}

function rdataOf(type: RecordType, value: string): Buffer {
  switch (type) {
    case 'A':
      if (!isIPv4(value)) throw new Error(`A record value ${value} is not an IPv4 address`);
      return Buffer.from(value.split('.').map(Number));
    case 'AAAA': {
      if (!isIPv6(value)) throw new Error(`AAAA record value ${value} is not an IPv6 address`);
      const [head = '', tail = ''] = value.split('::');
      const groups = (s: string) => (s ? s.split(':') : []);
      const missing = 8 - groups(head).length - groups(tail).length;
      const all = [...groups(head), ...Array(value.includes('::') ? missing : 0).fill('0'), ...groups(tail)];
      return Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
    }
    case 'CNAME':
      return encodeName(value);
    case 'TXT':
      return Buffer.concat(
        txtStrings(value).map((s) => {
          const bytes = Buffer.from(s, 'utf8');
          if (bytes.length > 255) throw new Error('a TXT string longer than 255 bytes: split it');
          return Buffer.concat([Buffer.from([bytes.length]), bytes]);
        }),
      );
  }
}

/** The question of a query: its name (lower case), type, and where the question section ends. */
function parseQuestion(query: Buffer): { name: string; type: number; end: number } {
  let offset = 12;
  const labels: string[] = [];
  for (;;) {
    const length = query.readUInt8(offset);
    offset += 1;
    if (length === 0) break;
    if (length > 63) throw new Error('compressed or invalid name in a question');
    labels.push(query.toString('ascii', offset, offset + length).toLowerCase());
    offset += length;
  }
  return { name: labels.join('.'), type: query.readUInt16BE(offset), end: offset + 4 };
}

export async function startDnsStandIn(records: ResourceRecordSet[] = []): Promise<DnsStandIn> {
  const zone: ResourceRecordSet[] = [];
  const unhealthy = new Set<string>();
  const questions: string[] = [];
  const key = (r: ResourceRecordSet) => `${r.Name.toLowerCase().replace(/\.$/, '')} ${r.Type} ${r.SetIdentifier ?? ''}`;

  const upsert = (sets: ResourceRecordSet[]) => {
    for (const set of sets) {
      const at = zone.findIndex((r) => key(r) === key(set));
      if (at >= 0) zone.splice(at, 1, set);
      else zone.push(set);
    }
  };
  upsert(records);

  /** What Route 53 would answer at a name for a type: a simple record set, or the healthy side of a failover pair. */
  const answerSets = (name: string, type: RecordType): ResourceRecordSet[] => {
    const sets = zone.filter((r) => r.Name.toLowerCase().replace(/\.$/, '') === name && r.Type === type);
    const simple = sets.filter((r) => r.Failover === undefined);
    if (simple.length > 0) return simple;
    const healthy = (r: ResourceRecordSet | undefined) => r !== undefined && !(r.HealthCheckId && unhealthy.has(r.HealthCheckId));
    const primary = sets.find((r) => r.Failover === 'PRIMARY');
    const secondary = sets.find((r) => r.Failover === 'SECONDARY');
    // Route 53: the primary while healthy; else a healthy secondary; with neither healthy, the primary.
    if (healthy(primary) || !healthy(secondary)) return primary ? [primary] : [];
    return secondary ? [secondary] : [];
  };

  const respond = (query: Buffer): Buffer => {
    const id = query.readUInt16BE(0);
    const flags = query.readUInt16BE(2);
    const { name, type, end } = parseQuestion(query);
    const typeName = (Object.keys(TYPES) as RecordType[]).find((t) => TYPES[t] === type);
    questions.push(`${name} ${typeName ?? type}`);
    const known = zone.some((r) => r.Name.toLowerCase().replace(/\.$/, '') === name);
    const answers = typeName ? answerSets(name, typeName) : [];
    const rrs = answers.flatMap((set) =>
      set.ResourceRecords.map(({ Value }) => {
        const rdata = rdataOf(set.Type, Value);
        const fixed = Buffer.alloc(12);
        fixed.writeUInt16BE(0xc00c, 0); // the question's name
        fixed.writeUInt16BE(type, 2);
        fixed.writeUInt16BE(CLASS_IN, 4);
        fixed.writeUInt32BE(set.TTL, 6);
        fixed.writeUInt16BE(rdata.length, 10);
        return Buffer.concat([fixed, rdata]);
      }),
    );
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    // QR, the query's opcode and RD, AA; RCODE 3 (NXDOMAIN) for a name with nothing.
    header.writeUInt16BE(0x8000 | (flags & 0x7900) | 0x0400 | (known ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(rrs.length, 6);
    return Buffer.concat([header, query.subarray(12, end), ...rrs]);
  };

  const socket: Socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    let reply: Buffer;
    try {
      reply = respond(query);
    } catch {
      // FORMERR for what this stand-in cannot read.
      reply = Buffer.alloc(12);
      reply.writeUInt16BE(query.length >= 2 ? query.readUInt16BE(0) : 0, 0);
      reply.writeUInt16BE(0x8001, 2);
    }
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  return {
    server: `127.0.0.1:${socket.address().port}`,
    upsert,
    setHealthy: (id, healthy) => {
      if (healthy) unhealthy.delete(id);
      else unhealthy.add(id);
    },
    get questions() {
      return [...questions];
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
