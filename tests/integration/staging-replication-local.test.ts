/**
 * The local engine stands in for the staging buckets' cross-region replication
 * (resources/buckets.yml) as S3 does it by default: what is created under
 * staging/ in one region's bucket appears in the other's under the same key;
 * deletions and replicas are not replicated.
 */
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { customerS3Client, type S3EventRecord } from '../../local/s3';
import { decodeNotificationKey } from '../../local/s3-notifications';
import { REGIONS } from '../../local/stack';
import { startTestEngine, type TestEngine } from '../support/local-engine';
import '../support/integration-timeout';

let engine: TestEngine;
let s3: S3Client;
let west: string;
let east: string;
const events: Array<{ bucket: string; key: string; eventName: string }> = [];
const listeners = new Set<() => void>();

beforeAll(async () => {
  engine = await startTestEngine();
  s3 = customerS3Client(engine.stack.info.s3.endpoint);
  west = engine.stack.info.regions[REGIONS.west]?.stagingBucket ?? '';
  east = engine.stack.info.regions[REGIONS.east]?.stagingBucket ?? '';
  engine.stack.s3.onEvent((record: S3EventRecord) => {
    events.push({ bucket: record.s3.bucket.name, key: decodeNotificationKey(record.s3.object.key), eventName: record.eventName });
    for (const listener of listeners) listener();
  });
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await engine?.close();
});

/** Resolves once an object has been created at `bucket`/`key` (an S3 event says so). */
function created(bucket: string, key: string): Promise<void> {
  const seen = () => events.some((e) => e.bucket === bucket && e.key === key && e.eventName.startsWith('ObjectCreated:'));
  return new Promise((resolve) => {
    if (seen()) return resolve();
    const listener = () => {
      if (!seen()) return;
      listeners.delete(listener);
      resolve();
    };
    listeners.add(listener);
  });
}

async function bytesOf(bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw err;
  }
}

test('an object staged in west is replicated to east’s bucket; its deletion and the replica itself are not replicated', async () => {
  const key = `staging/customer-a/job-${randomBytes(4).toString('hex')}/file.bin`;
  const content = randomBytes(64 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: west, Key: key, Body: content, Metadata: { sha256: 'recorded' } }));
  await created(east, key);
  expect(await bytesOf(east, key)).toEqual(content);
  const replica = await s3.send(new GetObjectCommand({ Bucket: east, Key: key }));
  expect(replica.Metadata).toMatchObject({ sha256: 'recorded' });
  await replica.Body?.transformToByteArray();

  await s3.send(new DeleteObjectCommand({ Bucket: west, Key: key }));
  // A later object's replica comes after anything the deletion (or a replica's replica) would have caused.
  const marker = `staging/customer-a/marker-${randomBytes(4).toString('hex')}`;
  await s3.send(new PutObjectCommand({ Bucket: west, Key: marker, Body: 'm' }));
  await created(east, marker);

  expect(await bytesOf(east, key)).toEqual(content);
  expect(await bytesOf(west, key)).toBeUndefined();
  expect(events.filter((e) => e.bucket === west && e.key === key).map((e) => e.eventName)).toEqual([
    'ObjectCreated:Put',
    'ObjectRemoved:Delete',
  ]);
});

test('objects outside staging/ stay in their region', async () => {
  const key = `elsewhere/${randomBytes(4).toString('hex')}`;
  await s3.send(new PutObjectCommand({ Bucket: east, Key: key, Body: 'x' }));
  const marker = `staging/customer-a/marker-${randomBytes(4).toString('hex')}`;
  await s3.send(new PutObjectCommand({ Bucket: east, Key: marker, Body: 'm' }));
  await created(west, marker);
  expect(await bytesOf(west, key)).toBeUndefined();
});
