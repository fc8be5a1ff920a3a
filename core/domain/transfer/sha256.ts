/**
 * SHA-256 of the content, computed while it streams through a hop, that can
 * be rewound to earlier offsets so a retried hop resumes mid-file instead of
 * starting over: the hash state is snapshotted (Hash#copy, a few hundred
 * bytes) at regular offsets, and a resume continues from the latest snapshot
 * at or below the point the destination has safely received.
 */
import { createHash, type Hash } from 'node:crypto';
import { type Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { runPipeline } from './pipeline';

export class ResumableSha256 {
  private hash: Hash = createHash('sha256');
  /** Bytes hashed so far (the offset the next byte belongs to). */
  position = 0;
  /** Snapshots by offset, ascending; offset 0 is always there. */
  private readonly marks = new Map<number, Hash>([[0, createHash('sha256')]]);

  /** @param markEvery snapshot at every multiple of this offset (exactly; chunks are split there). */
  constructor(private readonly markEvery: number) {
    if (!(markEvery > 0)) throw new RangeError('markEvery must be positive');
  }

  update(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const nextMark = (Math.floor(this.position / this.markEvery) + 1) * this.markEvery;
      const n = Math.min(chunk.length - at, nextMark - this.position);
      this.hash.update(n === chunk.length ? chunk : chunk.subarray(at, at + n));
      this.position += n;
      at += n;
      if (this.position === nextMark) this.marks.set(this.position, this.hash.copy());
    }
  }

  /**
   * Rewinds to the latest snapshot at or below `offset` and returns that
   * snapshot's offset: the caller resumes reading the source there.
   */
  rewind(offset: number): number {
    let best = 0;
    for (const at of this.marks.keys()) if (at <= offset && at > best) best = at;
    this.hash = (this.marks.get(best) as Hash).copy();
    this.position = best;
    for (const at of [...this.marks.keys()]) if (at > best) this.marks.delete(at);
    return best;
  }

  /**
   * Drops snapshots below the latest one at or below `offset` (the caller
   * expects to resume at `offset` or later). The start (0) is always kept: a
   * destination that lost everything can still be rewritten from scratch.
   */
  forgetBefore(offset: number): void {
    let keep = 0;
    for (const at of this.marks.keys()) if (at <= offset && at > keep) keep = at;
    for (const at of [...this.marks.keys()]) if (at > 0 && at < keep) this.marks.delete(at);
  }

  /** Hex digest of everything hashed so far (the hash itself stays usable). */
  hex(): string {
    return this.hash.copy().digest('hex');
  }
}

/** A pass-through stage that feeds every byte to a hash on its way. */
export class HashingStream extends Transform {
  constructor(readonly hash: ResumableSha256) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    callback(null, chunk);
  }
}

/** SHA-256 (hex) of a buffer, for small in-memory content. */
export function sha256OfBuffer(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 (hex) of everything `stream` delivers, under the transfer's signal and stall watchdog. */
export async function sha256OfStream(stream: Readable, watch: { signal: AbortSignal; stallTimeoutMs: number }): Promise<string> {
  const hash = new ResumableSha256(NEVER_REWOUND);
  await runPipeline([stream, new HashingStream(hash), discard()], { ...watch, position: () => hash.position });
  return hash.hex();
}

const NEVER_REWOUND = Number.MAX_SAFE_INTEGER;

/** A sink that drops what it is given: the hash on the way is the point. */
function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() });
}
