import { createHash, randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/** Lower-case Crockford base32: URL- and DynamoDB-key-safe, no ambiguous letters. */
function base32(bytes: Uint8Array, length: number): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  // The last, partial group of bits (zero-padded), if the length wants it.
  if (bits > 0 && out.length < length) out += CROCKFORD[(value << (5 - bits)) & 31];
  return out;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A deterministic id: the same parts always give the same id. */
export function deterministicId(prefix: string, ...parts: string[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return `${prefix}_${base32(digest, 26)}`;
}

/**
 * A random id that sorts by creation time (48-bit ms timestamp first), so
 * listings and audit trails come back in order. Monotonic within a process
 * (as ULIDs are): ids made in the same millisecond increment the random part
 * of the previous one instead of drawing a new one, so two events recorded
 * one after the other never swap places.
 */
let previous: { ms: number; random: Buffer } | undefined;

export function timeOrderedId(prefix: string, nowMs: number): string {
  let random: Buffer;
  let ms = nowMs;
  if (previous && nowMs <= previous.ms) {
    ms = previous.ms;
    random = Buffer.from(previous.random);
    // +1 on the 80-bit random part, carrying from the last byte.
    for (let i = random.length - 1; i >= 0; i--) {
      random[i] = ((random[i] as number) + 1) & 0xff;
      if (random[i] !== 0) break;
    }
  } else {
    random = randomBytes(10);
  }
  previous = { ms, random };
  const time = Buffer.alloc(6);
  time.writeUIntBE(ms, 0, 6);
  return `${prefix}_${base32(Buffer.concat([time, random]), 26)}`;
}

/** A route's id: `rt_` and 26 characters, ordered by creation time like endpoint ids. */
export function newRouteId(nowMs: number): string {
  return timeOrderedId('rt', nowMs);
}

/** A schedule's id: `sc_` and 26 characters, ordered by creation time like endpoint ids. */
export function newScheduleId(nowMs: number): string {
  return timeOrderedId('sc', nowMs);
}

/** The shapes of the ids above, as an API path parameter must spell them. */
export const ROUTE_ID_PATTERN = /^rt_[0-9a-z]{26}$/;
export const SCHEDULE_ID_PATTERN = /^sc_[0-9a-z]{26}$/;
