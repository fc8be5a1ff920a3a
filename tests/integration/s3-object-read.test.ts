/**
 * Reading an S3 object as a transfer's source (core/adapters/s3/transfer/objects.ts)
 * with the engine's client (core/adapters/s3/client.ts), against the S3 emulator.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { CopyObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { readObject } from '../../core/adapters/s3/transfer/objects';
import { LOCAL_ACCOUNT_ID } from '../../local/cfn-values';
import { type LocalS3, startS3 } from '../../local/s3';
import { localS3Client } from '../support/s3';

jest.setTimeout(30_000);

const BUCKET = 'object-read';
let tmp: string;
let local: LocalS3;
let s3: S3Client;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'eft-s3-object-read-'));
  local = await startS3({ directory: tmp, buckets: [BUCKET] });
  s3 = localS3Client(local.endpoint);
});

afterAll(async () => {
  s3?.destroy();
  await local?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const owned = { Bucket: BUCKET, ExpectedBucketOwner: LOCAL_ACCOUNT_ID };

async function bytesOf(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

test('an object S3 keeps a SHA-256 for is streamed as sent, without asking for the checksum (no second pass over the bytes)', async () => {
  const content = randomBytes(3 * 1024 * 1024 + 5);
  await s3.send(new PutObjectCommand({ ...owned, Key: 'plain', Body: content }));
  // A copy with ChecksumAlgorithm makes S3 keep the object's full SHA-256.
  await s3.send(
    new CopyObjectCommand({
      ...owned,
      ExpectedSourceBucketOwner: LOCAL_ACCOUNT_ID,
      Key: 'checked',
      CopySource: `${BUCKET}/plain`,
      ChecksumAlgorithm: 'SHA256',
    }),
  );
  const asked = await s3.send(new GetObjectCommand({ ...owned, Key: 'checked', ChecksumMode: 'ENABLED' }));
  expect(asked.ChecksumSHA256).toBe(createHash('sha256').update(content).digest('base64'));
  await bytesOf(asked.Body as AsyncIterable<Buffer>);

  const body = await readObject(
    s3,
    { bucket: BUCKET, key: 'checked', owner: LOCAL_ACCOUNT_ID },
    { start: 0 },
    new AbortController().signal,
  );

  expect((body as IncomingMessage).headers['x-amz-checksum-sha256']).toBeUndefined();
  expect(sha(await bytesOf(body))).toBe(sha(content));
});
