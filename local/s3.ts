import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { LOCAL_ACCOUNT_ID } from './cfn-values';
import { startChildService } from './child-service';
import { LOCAL_CREDENTIALS } from './tables';

/**
 * The fields of an S3 event notification record the local runtime reads (a
 * subset of the format). As in S3, the key is URL-encoded (a space is `+`),
 * and the sequencer (hexadecimal) orders the events of one key.
 */
export interface S3EventRecord {
  eventName: string;
  eventTime: string;
  responseElements?: { 'x-amz-request-id'?: string };
  requestParameters?: { sourceIPAddress?: string };
  s3: {
    bucket: { name: string };
    object: { key: string; size?: number; eTag?: string; versionId?: string; sequencer: string };
  };
}

/**
 * A customer's own S3 client against the local S3 (fixtures, the walkthrough,
 * the bench): not the engine's, so it need not name bucket owners.
 */
export function customerS3Client(endpoint: string, region = 'us-gov-west-1'): S3Client {
  return new S3Client({ endpoint, region, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
}

/** A bucket and the AWS account that owns it (S3's bucket owner condition is enforced). */
export interface LocalBucket {
  name: string;
  owner: string;
}

export interface LocalS3 {
  endpoint: string;
  /** Called for each ObjectCreated/ObjectRemoved event, like an S3 notification. */
  onEvent(listener: (record: S3EventRecord) => void): void;
  close(): Promise<void>;
}

/**
 * s3rver (in a child process, see s3-process.cjs) on loopback, storing objects
 * under `directory`. It supports multipart uploads, CopyObject and
 * UploadPartCopy, and emits S3-style events; s3-process.cjs adds what it
 * lacks (conditional writes, ListParts, the bucket owner condition). It skips
 * signature checks for bucket-level requests.
 */
export async function startS3(options: {
  directory: string;
  /** A name alone is a bucket of the engine's own (local) account. */
  buckets: Array<string | LocalBucket>;
  port?: number;
  host?: string;
}): Promise<LocalS3> {
  const buckets = options.buckets.map((b) => (typeof b === 'string' ? { name: b, owner: LOCAL_ACCOUNT_ID } : b));
  const host = options.host ?? '127.0.0.1';
  await mkdir(options.directory, { recursive: true });
  const service = await startChildService<{ port: number }>(
    join(__dirname, 's3-process.cjs'),
    {
      address: host,
      port: options.port ?? 0,
      directory: options.directory,
      configureBuckets: buckets.map(({ name }) => ({ name })),
      bucketOwners: Object.fromEntries(buckets.map(({ name, owner }) => [name, owner])),
      defaultOwner: LOCAL_ACCOUNT_ID,
    },
    { execArgv: ['--openssl-legacy-provider'], onLine: (line) => process.stderr.write(`[s3] ${line}\n`) },
  );
  return {
    endpoint: `http://${host}:${service.ready.port}`,
    onEvent(listener) {
      service.child.on('message', (message: { records: S3EventRecord[] }) => {
        for (const record of message.records) listener(record);
      });
    },
    close: () => service.close(),
  };
}
