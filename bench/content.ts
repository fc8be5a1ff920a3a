/**
 * Test content, generated on the fly: a stream of `size` bytes built from a
 * random 4 MiB block, each 1 MiB chunk stamped with its index so no two
 * chunks are equal. Nothing in the paths under test compresses or
 * deduplicates, so this is as good as random data and costs only a memcpy.
 * Files of any size are written without holding them in memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MiB } from './util';

const BLOCK = randomBytes(4 * MiB);
const CHUNK = MiB;

export function contentStream(size: number): Readable {
  let offset = 0;
  let index = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (offset >= size) {
        this.push(null);
        return;
      }
      const length = Math.min(CHUNK, size - offset);
      const start = (index * 7919) % (BLOCK.length - CHUNK);
      const chunk = Buffer.from(BLOCK.subarray(start, start + length));
      if (length >= 8) chunk.writeBigUInt64BE(BigInt(index), 0);
      offset += length;
      index++;
      this.push(chunk);
    },
  });
}

/** A pass-through stage that hashes what flows through it. */
export function hashTap(): { stream: Transform; hex: () => string; bytes: () => number } {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  return { stream, hex: () => hash.digest('hex'), bytes: () => bytes };
}

/** Writes `size` bytes of generated content to `path`; returns its SHA-256. */
export async function writeContentFile(path: string, size: number): Promise<string> {
  const tap = hashTap();
  await pipeline(contentStream(size), tap.stream, createWriteStream(path));
  return tap.hex();
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 4 * MiB }), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) hash.update(chunk);
  });
  return hash.digest('hex');
}
