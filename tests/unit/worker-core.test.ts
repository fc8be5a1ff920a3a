import { createHash } from 'node:crypto';
import { PassThrough, Readable, Writable } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';

import { s3ErrorKind, s3Failure } from '../../core/adapters/s3/errors';
import { isTransientS3Error } from '../../core/adapters/s3/server-side-copy';
import { partSizeFor, S3_MAX_PARTS } from '../../core/adapters/s3/transfer/part-size';
import { moreChannelsFor } from '../../core/adapters/sftp/transfer/channel';
import { temporaryPathFor } from '../../core/adapters/sftp/transfer/target';
import { DEFAULT_WORKER_CONFIG, workerConfigFromEnv } from '../../core/data-plane/config';
import { ConnectionScope } from '../../core/data-plane/connections';
import { copyFile } from '../../core/data-plane/copy-file';
import { exitCodeFor, stagingKeyFor } from '../../core/data-plane/run-transfer';

import { ConnectionRefusedError, HostKeyMismatchError } from '../../core/domain/connectivity-errors';
import { StaleOwnerError } from '../../core/domain/errors';
import { connectionLost, LeaseLostError, StoppedError, TransferError, toTransferError } from '../../core/domain/transfer/errors';
import type { Committed, ExistingFile, FileSink, FileSource, FileTarget, TransferIo } from '../../core/domain/transfer/io';
import { retrying } from '../../core/domain/transfer/retry';
import { ResumableSha256 } from '../../core/domain/transfer/sha256';
import { createLogger } from '../../core/observability/logger';
import { workerSettingsFromEnv } from '../../fargate-worker/settings';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff));

describe('ResumableSha256', () => {
  test('hashes like createHash whatever the chunking', () => {
    const hash = new ResumableSha256(1000);
    for (let at = 0; at < data.length; at += 777) hash.update(data.subarray(at, at + 777));
    expect(hash.hex()).toBe(sha(data));
    expect(hash.position).toBe(data.length);
  });

  test('rewinds to the latest snapshot at or below an offset, and continues correctly from there', () => {
    const hash = new ResumableSha256(1000);
    hash.update(data.subarray(0, 6500));
    expect(hash.rewind(4321)).toBe(4000);
    expect(hash.position).toBe(4000);
    hash.update(data.subarray(4000));
    expect(hash.hex()).toBe(sha(data));
  });

  test('rewinds to 0 before the first snapshot, and forgets snapshots it will not need', () => {
    const hash = new ResumableSha256(1000);
    hash.update(data.subarray(0, 999));
    expect(hash.rewind(999)).toBe(0);
    hash.update(data.subarray(0, 5000));
    hash.forgetBefore(3500);
    // 1000 and 2000 are forgotten: resuming at 2000 must start over (never skip ahead to 3000, a hole).
    expect(hash.rewind(2000)).toBe(0);
    hash.update(data.subarray(0, 3500));
    hash.forgetBefore(3500);
    expect(hash.rewind(3999)).toBe(3000);
    hash.update(data.subarray(3000));
    expect(hash.hex()).toBe(sha(data));
  });
});

describe('worker configuration', () => {
  test('30 GB fits in S3 parts with the default part size, using 1,920 of them', () => {
    const size = 30 * 1024 ** 3;
    expect(partSizeFor(DEFAULT_WORKER_CONFIG, size)).toBe(16 * 1024 ** 2);
    expect(Math.ceil(size / DEFAULT_WORKER_CONFIG.partSizeBytes)).toBe(1920);
  });

  test('the part size grows when the parts would not fit in 10,000', () => {
    const size = 500 * 1024 ** 3;
    const part = partSizeFor(DEFAULT_WORKER_CONFIG, size);
    expect(Math.ceil(size / part)).toBeLessThanOrEqual(S3_MAX_PARTS);
    expect(part % (1024 * 1024)).toBe(0);
  });

  test('EFT_* variables override the defaults; a short lease brings faster heartbeats; junk is refused', () => {
    const config = workerConfigFromEnv({ EFT_PART_SIZE_BYTES: '65536', EFT_LEASE_TTL_MS: '900' });
    expect(config).toMatchObject({ partSizeBytes: 65536, leaseTtlMs: 900, heartbeatMs: 300, partConcurrency: 4 });
    expect(() => workerConfigFromEnv({ EFT_MAX_ATTEMPTS: 'many' })).toThrow('EFT_MAX_ATTEMPTS must be a positive integer');
    expect(() => workerConfigFromEnv({ EFT_PART_CONCURRENCY: '0' })).toThrow('EFT_PART_CONCURRENCY');
    // 0 ms is a meaningful round-trip threshold (a second channel on any link); below it is not.
    expect(workerConfigFromEnv({ EFT_SFTP_CHANNELS_MIN_RTT_MS: '0' }).sftpChannelsMinRttMs).toBe(0);
    expect(() => workerConfigFromEnv({ EFT_SFTP_CHANNELS_MIN_RTT_MS: '-1' })).toThrow(
      'EFT_SFTP_CHANNELS_MIN_RTT_MS must be a non-negative integer',
    );
  });
});

describe('how many SFTP channels a stream gets', () => {
  const limits = { sftpChannelsMinBytes: 64 * 1024 * 1024, sftpChannelsMinRttMs: 5 };
  /** A session on a link with the given round trip; records what it was asked to open. */
  const sessionWithRtt = (rttMs: number) => {
    const opened: number[] = [];
    return {
      opened,
      roundTripMs: async () => rttMs,
      openChannels: async (count: number) => {
        opened.push(count);
        return Array.from({ length: count }, () => ({}) as SFTPWrapper);
      },
    };
  };

  test('a large file on a long link: one more channel per channel asked for beyond the first', async () => {
    const session = sessionWithRtt(20);
    expect(await moreChannelsFor(session, 100 * 1024 * 1024, 2, limits)).toHaveLength(1);
    expect(session.opened).toEqual([1]);
  });

  test.each([
    ['a short link (the worker, not a window, is the limit there)', 0.4, 100 * 1024 * 1024, 2],
    ['a small file', 20, 1024 * 1024, 2],
    ['one channel configured', 20, 100 * 1024 * 1024, 1],
  ])('none for %s', async (_what, rttMs, size, channels) => {
    const session = sessionWithRtt(rttMs);
    expect(await moreChannelsFor(session, size, channels, limits)).toEqual([]);
    expect(session.opened).toEqual([]);
  });
});

describe('container overrides', () => {
  /** The task's environment but for the overrides (resources/worker.yml, as the local runtime sets it). */
  const task = {
    ENDPOINTS_TABLE: 'e',
    JOBS_TABLE: 'j',
    LEASES_TABLE: 'l',
    AUDIT_TABLE: 'a',
    PRINCIPALS_TABLE: 'p',
    STAGING_BUCKET: 'staging',
    ENGINE_ACCOUNT_ID: '000000000000',
    AWS_REGION: 'us-gov-west-1',
    SECRETS_KMS_KEY_ID: 'alias/eft-dev',
  };
  const lease = { partitionId: 'c1#a#b', executionId: 'arn:exec', region: 'us-gov-west-1', epoch: 3 };
  const overrides = (job: string | undefined, leaseText: string) =>
    workerSettingsFromEnv({ ...task, EFT_JOB: job, EFT_LEASE: leaseText });

  test('EFT_JOB and EFT_LEASE are parsed and checked', () => {
    const settings = overrides('{"customerId":"c1","jobId":"job_1"}', JSON.stringify(lease));
    expect(settings.work).toEqual({ kind: 'job', job: { customerId: 'c1', jobId: 'job_1' } });
    expect(settings.lease).toEqual(lease);
    expect(() => overrides(undefined, JSON.stringify(lease))).toThrow('EFT_JOB is not set');
    expect(() => overrides('{"customerId":"c1"}', JSON.stringify(lease))).toThrow('EFT_JOB.jobId must be a non-empty string');
    expect(() => overrides('{"customerId":"c1","jobId":"j"}', JSON.stringify({ ...lease, epoch: '3' }))).toThrow(
      'EFT_LEASE.epoch must be an integer',
    );
    expect(() => overrides('{"customerId":"c1","jobId":"j"}', 'not json')).toThrow('EFT_LEASE is not JSON');
  });
});

describe('errors and exit codes', () => {
  test('lease loss exits 3, a stop 143 (both interruptions), everything else 1', () => {
    expect(exitCodeFor(new StaleOwnerError('epoch 2 is stale'))).toBe(3);
    expect(exitCodeFor(new LeaseLostError('gone'))).toBe(3);
    expect(exitCodeFor(new StoppedError())).toBe(143);
    expect(exitCodeFor(new Error('boom'))).toBe(1);
  });

  test('transient failures are retryable, configuration failures are not', () => {
    expect(toTransferError(new ConnectionRefusedError('refused'))).toMatchObject({ code: 'CONNECTION_REFUSED', retryable: true });
    expect(toTransferError(new HostKeyMismatchError('a', 'b', 'mismatch'))).toMatchObject({
      code: 'HOST_KEY_MISMATCH',
      retryable: false,
    });
    expect(toTransferError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toMatchObject({
      code: 'CONNECTION_LOST',
      retryable: true,
    });
    expect(toTransferError(new Error('No response from server'))).toMatchObject({ code: 'CONNECTION_LOST', retryable: true });
  });

  test("S3's errors are read in one place (core/adapters/s3/errors.ts), with the codes every flow reports", () => {
    const throttled = Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
    expect(s3Failure(throttled, 's3://b/k')).toMatchObject({ code: 'S3_UNAVAILABLE', retryable: true });
    const denied = Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect(s3Failure(denied, 's3://b/k')).toMatchObject({ code: 'ACCESS_DENIED', retryable: false });
    const kms = Object.assign(new Error('key disabled'), { name: 'KMS.DisabledException', $metadata: { httpStatusCode: 400 } });
    expect(s3ErrorKind(kms)).toBe('denied');
    expect([throttled, denied].map(isTransientS3Error)).toEqual([true, false]);
  });

  test('temporary and staging names are per job and stable', () => {
    expect(temporaryPathFor('/in/a.csv', 'job_1')).toMatch(/^\/in\/a\.csv\.eft-[0-9a-f]{12}\.tmp$/);
    expect(temporaryPathFor('/in/a.csv', 'job_1')).toBe(temporaryPathFor('/in/a.csv', 'job_1'));
    expect(temporaryPathFor('/in/a.csv', 'job_2')).not.toBe(temporaryPathFor('/in/a.csv', 'job_1'));
    expect(stagingKeyFor({ customerId: 'c1', jobId: 'job_1' }, 'deep/dir/a.csv')).toBe('staging/c1/job_1/a.csv');
  });
});

describe('retrying', () => {
  const policy = { maxAttempts: 3, baseMs: 1, maxMs: 2 };
  const transient = () => new TransferError('CONNECTION_LOST', 'lost', { retryable: true });

  test('retries transient failures, then succeeds', async () => {
    let calls = 0;
    const value = await retrying(policy, { signal: new AbortController().signal }, async () => {
      if (++calls < 3) throw transient();
      return 'done';
    });
    expect(value).toBe('done');
    expect(calls).toBe(3);
  });

  test('gives up after maxAttempts failures in a row without progress', async () => {
    let calls = 0;
    await expect(
      retrying(policy, { signal: new AbortController().signal }, async () => {
        calls++;
        throw transient();
      }),
    ).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
    expect(calls).toBe(3);
  });

  test('failures that made progress do not count against the attempts', async () => {
    let calls = 0;
    const value = await retrying(policy, { signal: new AbortController().signal, progressed: () => true }, async () => {
      if (++calls < 6) throw transient();
      return calls;
    });
    expect(value).toBe(6);
  });

  test('permanent failures are not retried', async () => {
    let calls = 0;
    await expect(
      retrying(policy, { signal: new AbortController().signal }, async () => {
        calls++;
        throw new TransferError('SOURCE_MISSING', 'gone');
      }),
    ).rejects.toMatchObject({ code: 'SOURCE_MISSING' });
    expect(calls).toBe(1);
  });

  test('an abort stops the retries with its reason', async () => {
    const controller = new AbortController();
    let calls = 0;
    await expect(
      retrying({ ...policy, baseMs: 60_000, maxMs: 60_000 }, { signal: controller.signal }, async () => {
        calls++;
        queueMicrotask(() => controller.abort(new StoppedError()));
        throw transient();
      }),
    ).rejects.toMatchObject({ code: 'STOPPED' });
    expect(calls).toBe(1);
  });
});

/**
 * The copy on a kind of endpoint it was not written for: files in memory. The
 * source breaks once at `cutAt`, as soon as the target has taken every byte before it.
 */
class MemorySource implements FileSource {
  readonly location = 'mem://source';
  readonly opened: number[] = [];

  constructor(
    private readonly content: Buffer,
    private readonly target: MemoryTarget,
    private cutAt?: number,
  ) {}

  async stat(): Promise<number> {
    return this.content.length;
  }

  async open(offset: number): Promise<Readable> {
    this.opened.push(offset);
    const cut = this.cutAt;
    this.cutAt = undefined;
    const end = cut ?? this.content.length;
    const stream = Readable.from(chunks(this.content.subarray(offset, end), 500));
    if (cut === undefined) return stream;
    const broken = new PassThrough();
    stream.pipe(broken, { end: false });
    stream.once('end', () => this.target.whenKept(cut).then(() => broken.destroy(connectionLost(this.location))));
    return broken;
  }

  async sha256(): Promise<string> {
    return sha(this.content);
  }

  failure(error: unknown): unknown {
    return error;
  }

  async reset(): Promise<void> {}
}

function* chunks(content: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < content.length; at += size) yield content.subarray(at, at + size);
}

class MemoryTarget implements FileTarget {
  readonly location = 'mem://target';
  readonly resumesAfter = 'the bytes kept';
  /** What is at the final name. */
  file: Buffer | undefined;
  private written = Buffer.alloc(0);
  private waiting: { bytes: number; reached: () => void } | undefined;

  async existing(): Promise<ExistingFile | undefined> {
    return this.file ? { bytes: this.file.length } : undefined;
  }

  async sha256(): Promise<string> {
    return sha(this.file as Buffer);
  }

  prepare(): Promise<ExistingFile | undefined> {
    return this.existing();
  }

  resumeStep(): number {
    return 1000;
  }

  kept(): number {
    return this.written.length;
  }

  async resume(): Promise<number> {
    return this.kept();
  }

  async sink(offset: number): Promise<FileSink> {
    this.written = this.written.subarray(0, offset);
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.written = Buffer.concat([this.written, chunk]);
        if (this.waiting && this.written.length >= this.waiting.bytes) this.waiting.reached();
        callback();
      },
    });
    return Object.defineProperty(sink, 'position', { get: () => this.written.length }) as FileSink;
  }

  async commit(): Promise<Committed | undefined> {
    if (this.file) return undefined;
    this.file = this.written;
    return {};
  }

  async abort(): Promise<void> {
    this.written = Buffer.alloc(0);
  }

  failure(error: unknown): unknown {
    return error;
  }

  async reset(): Promise<void> {}

  whenKept(bytes: number): Promise<void> {
    if (this.written.length >= bytes) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiting = { bytes, reached: resolve };
    });
  }
}

function memoryIo(logged: string[] = []): TransferIo {
  return {
    signal: new AbortController().signal,
    logger: createLogger({}, (line) => logged.push(line)),
    tunables: { ...DEFAULT_WORKER_CONFIG, retryBaseMs: 1, retryMaxMs: 2 },
    job: { checkpoint: {}, saveCheckpoint: async () => undefined, confirmLease: async () => undefined },
    connections: new ConnectionScope(),
  };
}

describe('copyFile, whatever the kinds of its source and target', () => {
  test('copies byte for byte and commits with the content’s SHA-256', async () => {
    const target = new MemoryTarget();
    const done: number[] = [];

    const outcome = await copyFile(memoryIo(), new MemorySource(data, target), target, (bytes) => done.push(bytes));

    expect(target.file?.equals(data)).toBe(true);
    expect(outcome).toEqual({ bytes: data.length, sha256: sha(data), location: 'mem://target', alreadyPresent: false });
    expect(done.at(-1)).toBe(data.length);
  });

  test('a broken source resumes at the last hash snapshot below what the target kept', async () => {
    const target = new MemoryTarget();
    const source = new MemorySource(data, target, 4500);
    const logged: string[] = [];

    const outcome = await copyFile(memoryIo(logged), source, target, () => undefined);

    expect(source.opened).toEqual([0, 4000]);
    expect(target.file?.equals(data)).toBe(true);
    expect(outcome.sha256).toBe(sha(data));
    const lines = logged.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.find((l) => l.message === 'resuming after the bytes kept')).toMatchObject({ resumeAt: 4000 });
  });

  test('a target holding the same content already is settled without a second delivery', async () => {
    const target = new MemoryTarget();
    target.file = Buffer.from(data);
    const source = new MemorySource(data, target);

    const outcome = await copyFile(memoryIo(), source, target, () => undefined);

    expect(outcome).toMatchObject({ alreadyPresent: true, sha256: sha(data), bytes: data.length });
    expect(source.opened).toEqual([]);
  });

  test('a target holding other content fails with TARGET_EXISTS and is left as it was', async () => {
    const target = new MemoryTarget();
    const theirs = Buffer.alloc(data.length, 1);
    target.file = theirs;

    await expect(copyFile(memoryIo(), new MemorySource(data, target), target, () => undefined)).rejects.toMatchObject({
      code: 'TARGET_EXISTS',
    });
    expect(target.file).toBe(theirs);
  });
});
