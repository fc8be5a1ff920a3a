import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Destination } from './fixtures';

/** What the watcher saw under a final name that it should never see. */
export interface Sighting {
  kind: 'partial' | 'rewritten' | 'extra';
  location: string;
  detail: string;
}

interface Version {
  /** Identity of this version: its inode (a delivery renames a new file into place), or ETag+LastModified+size. */
  id: string;
  complete: boolean;
}

/**
 * Polls the round's destinations while the round runs and records every file or object under a
 * final name (not `.tmp`) whose content is not the source's (partial), a complete SFTP copy written again
 * (a new file renamed over it: a second delivery; S3's second writes are counted from its events, see
 * DrillEngine.s3Writes), and any other file in the destination folders (a copy under another name).
 */
export class DestinationWatcher {
  readonly sightings: Sighting[] = [];
  private readonly versions = new Map<string, Version>();
  private readonly expected: Map<string, Destination>;
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    destinations: Destination[],
    private readonly s3: () => S3Client,
    private readonly intervalMs = 100,
  ) {
    this.expected = new Map(destinations.map((d) => [this.keyOf(d.kind, d.bucket, d.location), d]));
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.poll().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
      }
    })();
  }

  /** Stops, after one last look. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.poll();
  }

  /** Leftover temporary files in the SFTP destination folders (informational: a job may still clean up). */
  async leftoverTmp(): Promise<string[]> {
    const found: string[] = [];
    for (const dir of this.sftpDirs()) {
      for (const name of await readdir(dir).catch(() => [] as string[])) if (name.endsWith('.tmp')) found.push(join(dir, name));
    }
    return found;
  }

  private keyOf(kind: string, bucket: string | undefined, location: string) {
    return `${kind}:${bucket ?? ''}:${location}`;
  }

  private sftpDirs(): string[] {
    return [...new Set([...this.expected.values()].filter((d) => d.kind === 'sftp').map((d) => dirname(d.location)))];
  }

  private s3Prefixes(): Array<{ bucket: string; prefix: string }> {
    const seen = new Map<string, { bucket: string; prefix: string }>();
    for (const d of this.expected.values()) {
      if (d.kind !== 's3' || !d.bucket) continue;
      const prefix = d.location.slice(0, d.location.lastIndexOf('/') + 1);
      seen.set(`${d.bucket}/${prefix}`, { bucket: d.bucket, prefix });
    }
    return [...seen.values()];
  }

  async poll(): Promise<void> {
    for (const dir of this.sftpDirs()) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (name.endsWith('.tmp')) continue;
        const location = join(dir, name);
        const info = await stat(location).catch(() => undefined);
        if (!info?.isFile()) continue;
        await this.see('sftp', undefined, location, `${info.ino}`, info.size, () => readFile(location));
      }
    }
    const s3 = this.s3();
    for (const { bucket, prefix } of this.s3Prefixes()) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      for (const object of listed.Contents ?? []) {
        const key = object.Key as string;
        // The batch's files are listed with the folder above them: only this folder's own objects.
        if (key.slice(prefix.length).includes('/')) continue;
        await this.see(
          's3',
          bucket,
          key,
          `${object.ETag}:${object.LastModified?.getTime()}:${object.Size}`,
          object.Size ?? 0,
          async () => {
            const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
            return Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
          },
        );
      }
    }
  }

  private async see(
    kind: 's3' | 'sftp',
    bucket: string | undefined,
    location: string,
    id: string,
    size: number,
    read: () => Promise<Buffer>,
  ): Promise<void> {
    const key = this.keyOf(kind, bucket, location);
    const shown = bucket ? `s3://${bucket}/${location}` : location;
    const expected = this.expected.get(key);
    const previous = this.versions.get(key);
    if (previous?.id === id) return;
    if (!expected) {
      if (!previous)
        this.sightings.push({ kind: 'extra', location: shown, detail: `${size} bytes under a name no job delivers` });
      this.versions.set(key, { id, complete: false });
      return;
    }
    let complete = false;
    if (size !== expected.size) {
      this.sightings.push({ kind: 'partial', location: shown, detail: `${size} of ${expected.size} bytes` });
    } else {
      const data = await read().catch(() => undefined);
      if (!data) return; // gone between the listing and the read: look again next time
      const digest = createHash('sha256').update(data).digest('hex');
      complete = data.length === expected.size && digest === expected.sha256;
      if (!complete) this.sightings.push({ kind: 'partial', location: shown, detail: `sha256 ${digest.slice(0, 12)}… ≠ source` });
    }
    // (S3: a second write is counted from S3's events instead, see DrillEngine.s3Writes: an object's listing
    // can change without a write while the local S3 finishes storing its metadata.)
    if (previous?.complete && kind === 'sftp')
      this.sightings.push({ kind: 'rewritten', location: shown, detail: 'a complete copy was written again' });
    this.versions.set(key, { id, complete });
  }

  /** Whether the destination holds the source's bytes now (final check). */
  async holds(destination: Destination): Promise<'ok' | 'missing' | 'wrong'> {
    let data: Buffer | undefined;
    if (destination.kind === 'sftp') data = await readFile(destination.location).catch(() => undefined);
    else {
      data = await this.s3()
        .send(new GetObjectCommand({ Bucket: destination.bucket, Key: destination.location }))
        .then(async (got) =>
          Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()),
        )
        .catch(() => undefined);
    }
    if (!data) return 'missing';
    return createHash('sha256').update(data).digest('hex') === destination.sha256 ? 'ok' : 'wrong';
  }
}
