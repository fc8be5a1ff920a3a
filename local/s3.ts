import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startChildService } from './child-service';

/** The S3 event record fields the engine reads (a subset of the S3 notification format). */
export interface S3EventRecord {
  eventName: string;
  s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string; versionId?: string } };
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
 * UploadPartCopy, and emits S3-style events. Limits: it does not enforce
 * conditional writes (If-None-Match), and it skips signature checks for
 * bucket-level requests.
 */
export async function startS3(options: { directory: string; buckets: string[]; port?: number; host?: string }): Promise<LocalS3> {
  const host = options.host ?? '127.0.0.1';
  await mkdir(options.directory, { recursive: true });
  const service = await startChildService<{ port: number }>(
    join(__dirname, 's3-process.cjs'),
    {
      address: host,
      port: options.port ?? 0,
      directory: options.directory,
      configureBuckets: options.buckets.map((name) => ({ name })),
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
