import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

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
  const serverOptions = {
    address: host,
    port: options.port ?? 0,
    directory: options.directory,
    configureBuckets: options.buckets.map((name) => ({ name })),
  };
  const child = fork(join(__dirname, 's3-process.cjs'), [JSON.stringify(serverOptions)], {
    execArgv: ['--openssl-legacy-provider'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const started = (async () => {
    for await (const line of lines) return JSON.parse(line) as { port: number };
    return new Promise<never>(() => {}); // stdout closed: exitedEarly reports it
  })();
  const exitedEarly = exited.then(() => {
    throw new Error('the local S3 emulator exited before it started listening');
  });
  exitedEarly.catch(() => {}); // only an error while we wait for the port
  const { port } = await Promise.race([started, exitedEarly]);
  return {
    endpoint: `http://${host}:${port}`,
    onEvent(listener) {
      child.on('message', (message: { records: S3EventRecord[] }) => {
        for (const record of message.records) listener(record);
      });
    },
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
