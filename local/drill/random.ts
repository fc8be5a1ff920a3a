/** A seeded generator (mulberry32), so a drill run can be repeated with --seed. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** In [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Content that does not compress and differs per file. */
  bytes(size: number): Buffer {
    const data = Buffer.allocUnsafe(size);
    for (let i = 0; i + 4 <= size; i += 4) data.writeUInt32LE((this.next() * 4294967296) >>> 0, i);
    for (let i = size - (size % 4); i < size; i++) data[i] = (this.next() * 256) | 0;
    return data;
  }
}
