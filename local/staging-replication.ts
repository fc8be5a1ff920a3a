/**
 * Cross-region replication of the staging buckets, locally: what
 * resources/buckets.yml configures in AWS. Every object created under
 * staging/ in one region's staging bucket is copied to the other region's
 * under the same key, after a lag (replication is asynchronous; in AWS within
 * 15 minutes, S3 RTC). As S3 replication does by default: deletions are not
 * replicated, and a replica is not replicated back.
 *
 * The copy keeps the key, the size and the user metadata (the sha256 of a
 * single-PUT copy), as a replica does; its ETag may differ from the
 * original's (a multipart original is copied as one part), as a replica's of
 * an SSE-KMS object may.
 */
import { CopyObjectCommand } from '@aws-sdk/client-s3';
import { customerS3Client, type LocalS3, type S3EventRecord } from './s3';
import { decodeNotificationKey } from './s3-notifications';

/** The prefix the replication rule selects (resources/buckets.yml). */
const REPLICATED_PREFIX = 'staging/';
/** Tries of one copy before it is given up (and logged): s3rver on loopback fails only when it is going away. */
const ATTEMPTS = 3;

export interface Replicated {
  from: string;
  to: string;
  key: string;
}

export interface StagingReplication {
  /** Called once each replica is written (tests wait for it). */
  onReplicated(listener: (replica: Replicated) => void): void;
  /** Stops: copies not started yet are dropped, as they would be with the region gone. */
  close(): Promise<void>;
}

export interface StagingReplicationOptions {
  /** The local S3 endpoint (both regions' buckets are on the one s3rver). */
  endpoint: string;
  /** Each region's staging bucket by region: each is replicated to every other. */
  buckets: string[];
  /** How long after an object is created its replica is written. */
  lagMs: number;
  log: (line: string) => void;
}

export function replicateStagingBuckets(s3: LocalS3, options: StagingReplicationOptions): StagingReplication {
  const client = customerS3Client(options.endpoint);
  const buckets = new Set(options.buckets);
  const listeners: Array<(replica: Replicated) => void> = [];
  const timers = new Set<NodeJS.Timeout>();
  const copying = new Set<Promise<void>>();
  /** Replicas being written, by `bucket/key`: their own "created" events are not replicated back. */
  const replicasInFlight = new Map<string, number>();
  let closed = false;

  const copy = async (from: string, to: string, key: string) => {
    const target = `${to}/${key}`;
    replicasInFlight.set(target, (replicasInFlight.get(target) ?? 0) + 1);
    for (let attempt = 1; ; attempt++) {
      try {
        await client.send(new CopyObjectCommand({ Bucket: to, Key: key, CopySource: encodeCopySource(from, key) }));
        break;
      } catch (error) {
        if (closed || attempt >= ATTEMPTS) {
          replicasInFlight.set(target, (replicasInFlight.get(target) ?? 1) - 1);
          options.log(`staging replication of s3://${from}/${key} to ${to} failed: ${(error as Error).message}`);
          return;
        }
      }
    }
    for (const listener of listeners) listener({ from, to, key });
  };

  s3.onEvent((record: S3EventRecord) => {
    const from = record.s3.bucket.name;
    if (closed || !buckets.has(from) || !record.eventName.startsWith('ObjectCreated:')) return;
    const key = decodeNotificationKey(record.s3.object.key);
    if (!key.startsWith(REPLICATED_PREFIX)) return;
    const pending = replicasInFlight.get(`${from}/${key}`) ?? 0;
    if (pending > 0 && record.eventName === 'ObjectCreated:Copy') {
      replicasInFlight.set(`${from}/${key}`, pending - 1);
      return;
    }
    for (const to of buckets) {
      if (to === from) continue;
      const timer = setTimeout(() => {
        timers.delete(timer);
        const done = copy(from, to, key).finally(() => copying.delete(done));
        copying.add(done);
      }, options.lagMs);
      timers.add(timer);
    }
  });

  return {
    onReplicated: (listener) => {
      listeners.push(listener);
    },
    close: async () => {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.allSettled([...copying]);
      client.destroy();
    },
  };
}

/** x-amz-copy-source: the bucket and the key, each segment URL-encoded. */
function encodeCopySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}
