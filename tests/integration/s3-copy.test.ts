/**
 * The S3→S3 server-side copy against the local S3 stand-in (s3rver behind
 * local/s3-process.cjs, which serves the upload listings, the conditional
 * writes, the bucket owner condition and SHA-256 checksums) and the local
 * DynamoDB. What the stand-in still lacks, the copy source preconditions, the
 * client used here checks explicitly (see `emulatorGaps`), so the engine's code
 * runs exactly as it would against S3.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { DynamoAuditLog } from '../../core/adapters/dynamodb/audit-log';
import { DynamoJobStore } from '../../core/adapters/dynamodb/job-store';
import { requireBucketOwner } from '../../core/adapters/s3/bucket-owner';
import { copyS3Object, type S3CopyCheckpoint, type S3CopyDeps, type S3CopyInput } from '../../core/adapters/s3/server-side-copy';
import { DEFAULT_S3_COPY_CONFIG, type S3CopyConfig } from '../../core/adapters/s3/server-side-copy-config';
import { ManualClock } from '../../core/domain/clock';
import {
  AccessDeniedError,
  CopySourceNotFoundError,
  SourceChangedError,
  SourceMissingError,
  StaleOwnerError,
  TargetExistsError,
} from '../../core/domain/errors';
import { deriveIdempotencyKey, type JobWork, type TransferJob } from '../../core/domain/job';
import type { LeaseToken } from '../../core/domain/lease';
import type { JobKey } from '../../core/domain/ports';
import { type LocalS3, startS3 } from '../../local/s3';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';

const MiB = 1024 * 1024;
const SOURCE_BUCKET = 'source';
const TARGET_BUCKET = 'target';
/** The buckets belong to two accounts; the local S3 refuses a request that names another owner. */
const SOURCE_OWNER = '111111111111';
const TARGET_OWNER = '222222222222';
const OWNER_OF: Record<string, string> = { [SOURCE_BUCKET]: SOURCE_OWNER, [TARGET_BUCKET]: TARGET_OWNER };
const WEST = { actor: 'sfn:west', region: 'us-gov-west-1' };
/** Forces the multipart path on small objects: 1 MiB parts (below S3's 5 MiB floor, which only tests may lower). */
const MULTIPART: S3CopyConfig = {
  ...DEFAULT_S3_COPY_CONFIG,
  multipartThresholdBytes: MiB,
  partSizeBytes: MiB,
  minPartSizeBytes: MiB,
  partConcurrency: 4,
};
/** 5.5 MiB: five whole parts and a short last one. */
const MULTIPART_SIZE = 5.5 * MiB;
const MULTIPART_PARTS = 6;

let s3rver: LocalS3;
let directory: string;
let dynamo: TestDynamo;
let plainS3: S3Client;
let clock: ManualClock;
let jobs: RecordingJobStore;
let seq = 0;

/** The job store, remembering every recordWork so tests can see what was written and how often. */
class RecordingJobStore extends DynamoJobStore {
  readonly works: JobWork[] = [];
  override recordWork(key: JobKey, fence: LeaseToken, work: JobWork): Promise<TransferJob> {
    this.works.push(work);
    return super.recordWork(key, fence, work);
  }
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'eft-s3-copy-'));
  [s3rver, dynamo] = await Promise.all([
    startS3({
      directory,
      buckets: [
        { name: SOURCE_BUCKET, owner: SOURCE_OWNER },
        { name: TARGET_BUCKET, owner: TARGET_OWNER },
      ],
    }),
    startTestDynamo(),
  ]);
  plainS3 = newClient();
});
afterAll(async () => {
  plainS3?.destroy();
  await Promise.all([s3rver?.close(), dynamo?.close()]);
  await rm(directory, { recursive: true, force: true });
});
beforeEach(() => {
  clock = new ManualClock();
  jobs = new RecordingJobStore(dynamo.db, dynamo.tables.jobs, new DynamoAuditLog(dynamo.db, dynamo.tables.audit, clock), clock);
});

function newClient(): S3Client {
  return new S3Client({
    endpoint: s3rver.endpoint,
    region: 'us-gov-west-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

// ---------------------------------------------------------------------------
// The emulator, with its gaps filled and every command counted

/** Runs before a command is sent: `n` is how many commands of that name this client has seen, this one included. */
type BeforeSend = (command: string, input: Record<string, unknown>, n: number) => Promise<void> | void;

interface InstrumentedS3 {
  s3: S3Client;
  /** Commands sent, by name without the "Command" suffix (counted even when they fail). */
  calls: Record<string, number>;
  sent: { command: string; input: Record<string, unknown> }[];
}

const instrumentedClients: S3Client[] = [];
afterEach(() => {
  for (const client of instrumentedClients.splice(0)) client.destroy();
});

/** A client as the engine builds them: every request must name the bucket's owner (requireBucketOwner). */
function instrumentedS3(beforeSend?: BeforeSend): InstrumentedS3 {
  const s3 = requireBucketOwner(newClient());
  instrumentedClients.push(s3);
  const calls: Record<string, number> = {};
  const sent: InstrumentedS3['sent'] = [];
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName?.replace(/Command$/, '') ?? 'unknown';
      const input = args.input as Record<string, unknown>;
      calls[command] = (calls[command] ?? 0) + 1;
      sent.push({ command, input });
      await beforeSend?.(command, input, calls[command]);
      const emulated = await emulatorGaps(command, input);
      if (emulated) return { output: { ...emulated, $metadata: {} }, response: {} } as Awaited<ReturnType<typeof next>>;
      return next(args);
    },
    { step: 'initialize', name: 'emulatorGaps' },
  );
  return { s3, calls, sent };
}

/**
 * What the local S3 stand-in lacks, checked against it: s3rver ignores
 * CopySourceIfMatch (UploadPartCopy and CopyObject copy a changed source). It
 * is checked here as S3 documents it, by a HeadObject before the command goes
 * to the stand-in (and If-None-Match too, which the stand-in also enforces).
 * Returns the output of a command served here (none is, today), or undefined to
 * send the command to the stand-in.
 */
async function emulatorGaps(command: string, input: Record<string, unknown>): Promise<object | undefined> {
  switch (command) {
    case 'UploadPartCopy':
    case 'CopyObject':
    case 'CompleteMultipartUpload':
      await checkPreconditions(input);
      return undefined;
    default:
      return undefined;
  }
}

async function checkPreconditions(input: Record<string, unknown>): Promise<void> {
  if (input.CopySourceIfMatch) {
    const [bucket, ...key] = String(input.CopySource).split('?')[0]?.split('/') ?? [];
    const source = await etagOf(String(bucket), key.map(decodeURIComponent).join('/'));
    if (source !== input.CopySourceIfMatch) throw preconditionFailed('x-amz-copy-source-if-match');
  }
  if (input.IfNoneMatch === '*' && (await etagOf(String(input.Bucket), String(input.Key)))) {
    throw preconditionFailed('If-None-Match');
  }
}

async function etagOf(bucket: string, key: string): Promise<string | undefined> {
  try {
    return (await plainS3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag;
  } catch (error) {
    if ((error as S3ServiceException).$metadata?.httpStatusCode === 404) return undefined;
    throw error;
  }
}

function preconditionFailed(condition: string): S3ServiceException {
  return new S3ServiceException({
    name: 'PreconditionFailed',
    $fault: 'client',
    $metadata: { httpStatusCode: 412 },
    message: `At least one of the pre-conditions you specified did not hold: ${condition}`,
  });
}

// ---------------------------------------------------------------------------
// Jobs, objects and copies

function lease(job: TransferJob, epoch = 1): LeaseToken {
  return { partitionId: job.partitionId, executionId: 'exec-1', region: 'us-gov-west-1', epoch };
}

/** A RUNNING S3→S3 job, moved there under a lease of `epoch`. */
async function runningJob(epoch = 1): Promise<TransferJob> {
  const n = ++seq;
  const base = {
    customerId: 'cust-copy',
    flowType: 'S3_TO_S3' as const,
    sourceEndpointId: 'ep_src',
    sourcePath: `in/file-${n}.bin`,
    targetEndpointId: 'ep_dst',
    targetPath: `out/file-${n}.bin`,
  };
  const { job } = await jobs.create({ ...base, idempotencyKey: deriveIdempotencyKey(base) }, WEST);
  await jobs.transition(job, 'QUEUED', WEST);
  return jobs.transition(job, 'RUNNING', { ...WEST, fence: lease(job, epoch) });
}

interface Scenario {
  job: TransferJob;
  input: S3CopyInput;
  content: Buffer;
}

/** A running job and its source object of `size` random bytes; the target key is free. */
async function scenario(size: number, epoch = 1): Promise<Scenario> {
  const job = await runningJob(epoch);
  const content = randomBytes(size);
  await putObject(SOURCE_BUCKET, job.sourcePath, content);
  return {
    job,
    content,
    input: {
      job,
      lease: lease(job),
      source: { bucket: SOURCE_BUCKET, key: job.sourcePath, owner: SOURCE_OWNER },
      target: { bucket: TARGET_BUCKET, key: job.targetPath, owner: TARGET_OWNER },
    },
  };
}

function putObject(bucket: string, key: string, body: Buffer) {
  return plainS3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/x-test' }));
}

async function readObject(bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const object = await plainS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from((await object.Body?.transformToByteArray()) ?? []);
  } catch (error) {
    if ((error as S3ServiceException).$metadata?.httpStatusCode === 404) return undefined;
    throw error;
  }
}

/** Objects are compared by digest: jest's deep equality is far too slow on MiBs of bytes. */
function digest(content: Buffer | undefined): string | undefined {
  return content && `${content.length}:${createHash('sha256').update(content).digest('hex')}`;
}

async function targetUploads(key: string): Promise<string[]> {
  const { s3 } = instrumentedS3();
  const listed = await s3.send(
    new ListMultipartUploadsCommand({ Bucket: TARGET_BUCKET, ExpectedBucketOwner: TARGET_OWNER, Prefix: key }),
  );
  return (listed.Uploads ?? []).map((u) => u.UploadId ?? '');
}

function deps(s3: S3Client, config: S3CopyConfig, extra: Partial<S3CopyDeps> = {}): S3CopyDeps {
  return { s3, jobs, config, clock, ...extra };
}

async function checkpointOf(job: TransferJob): Promise<S3CopyCheckpoint | undefined> {
  return (await jobs.get(job))?.checkpoint?.s3Copy as S3CopyCheckpoint | undefined;
}

function checkpointWrites(): number {
  return jobs.works.filter((w) => w.checkpoint).length;
}

/** Writes that change the target bucket. */
const MUTATIONS = ['CopyObject', 'CreateMultipartUpload', 'UploadPartCopy', 'CompleteMultipartUpload', 'AbortMultipartUpload'];

function mutationsSent(calls: Record<string, number>): string[] {
  return MUTATIONS.filter((command) => calls[command]);
}

// ---------------------------------------------------------------------------

describe('single-object copy (CopyObject)', () => {
  it('delivers the source byte for byte, records the result and writes the engine metadata', async () => {
    const { job, input, content } = await scenario(300 * 1024);
    const { s3, calls, sent } = instrumentedS3();

    const result = await copyS3Object(deps(s3, DEFAULT_S3_COPY_CONFIG), {
      ...input,
      target: { ...input.target, kmsKeyId: 'key-1' },
    });

    expect(digest(await readObject(TARGET_BUCKET, job.targetPath))).toBe(digest(content));
    const target = await plainS3.send(new HeadObjectCommand({ Bucket: TARGET_BUCKET, Key: job.targetPath }));
    const source = await plainS3.send(new HeadObjectCommand({ Bucket: SOURCE_BUCKET, Key: job.sourcePath }));
    expect(result).toEqual({
      bytes: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      etag: target.ETag,
      location: `s3://target/${job.targetPath}`,
      alreadyPresent: false,
    });
    expect(target.ContentType).toBe('application/x-test');
    expect(target.Metadata).toEqual({ 'eft-source-etag': source.ETag?.replace(/"/g, '') });
    expect(calls).toMatchObject({ CopyObject: 1 });
    expect(mutationsSent(calls)).toEqual(['CopyObject']);
    // s3rver does not keep encryption settings, so the request is what can be checked.
    expect(sent.find((s) => s.command === 'CopyObject')?.input).toMatchObject({
      CopySourceIfMatch: source.ETag,
      IfNoneMatch: '*',
      MetadataDirective: 'REPLACE',
      ChecksumAlgorithm: 'SHA256',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'key-1',
    });
    expect(await jobs.get(job)).toMatchObject({ result, bytesTransferred: content.length, bytesTotal: content.length });
  });

  it('refuses to overwrite a target written between its check and the copy (conditional write)', async () => {
    const { job, input } = await scenario(1024);
    const intruder = randomBytes(1024);
    const { s3 } = instrumentedS3(async (command) => {
      if (command === 'CopyObject') await putObject(TARGET_BUCKET, job.targetPath, intruder);
    });

    await expect(copyS3Object(deps(s3, DEFAULT_S3_COPY_CONFIG), input)).rejects.toBeInstanceOf(TargetExistsError);
    expect(digest(await readObject(TARGET_BUCKET, job.targetPath))).toBe(digest(intruder));
  });
});

describe('multipart copy (UploadPartCopy)', () => {
  it('delivers the source byte for byte and checkpoints every part, at a bounded rate', async () => {
    const { job, input, content } = await scenario(MULTIPART_SIZE);
    const { s3, calls } = instrumentedS3();

    const result = await copyS3Object(deps(s3, MULTIPART), input);

    expect(digest(await readObject(TARGET_BUCKET, job.targetPath))).toBe(digest(content));
    expect(result).toMatchObject({ bytes: content.length, alreadyPresent: false, location: `s3://target/${job.targetPath}` });
    expect(calls).toMatchObject({ CreateMultipartUpload: 1, UploadPartCopy: MULTIPART_PARTS, CompleteMultipartUpload: 1 });
    const checkpoint = await checkpointOf(job);
    expect(checkpoint).toMatchObject({ partSize: MiB, uploadId: expect.any(String) });
    expect(checkpoint?.parts.map((p) => p.PartNumber)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(checkpoint?.parts.every((p) => /^"[0-9a-f]{32}"$/.test(p.ETag))).toBe(true);
    // The clock stands still, so only the upload's start and the state before the commit are written.
    expect(checkpointWrites()).toBe(2);
    expect(await jobs.get(job)).toMatchObject({ result, bytesTransferred: content.length, bytesTotal: content.length });
  });

  it('writes a checkpoint at most once per interval while parts complete', async () => {
    const { input } = await scenario(MULTIPART_SIZE);
    const { s3 } = instrumentedS3((command) => {
      if (command === 'UploadPartCopy') clock.advance(MULTIPART.checkpointIntervalMs / 2);
    });

    await copyS3Object(deps(s3, { ...MULTIPART, partConcurrency: 1 }), input);

    // Start, every second part (half an interval each), and before the commit.
    expect(checkpointWrites()).toBe(1 + MULTIPART_PARTS / 2 + 1);
  });

  it('continues an interrupted upload: same upload id, only the missing parts copied', async () => {
    const { job, input, content } = await scenario(MULTIPART_SIZE);
    const flaky = instrumentedS3((command, _input, n) => {
      if (command === 'UploadPartCopy' && n > 3) throw new Error('simulated connection reset');
    });
    await expect(copyS3Object(deps(flaky.s3, MULTIPART), input)).rejects.toThrow('simulated connection reset');
    const interrupted = await checkpointOf(job);
    expect(interrupted?.parts).toHaveLength(3);
    expect(await readObject(TARGET_BUCKET, job.targetPath)).toBeUndefined();

    const retry = instrumentedS3();
    const result = await copyS3Object(deps(retry.s3, MULTIPART), { ...input, job: (await jobs.get(job)) as TransferJob });

    expect(retry.calls).toMatchObject({ UploadPartCopy: MULTIPART_PARTS - 3, CompleteMultipartUpload: 1 });
    expect(retry.calls.CreateMultipartUpload).toBeUndefined();
    expect(retry.calls.AbortMultipartUpload).toBeUndefined();
    expect((await checkpointOf(job))?.uploadId).toBe(interrupted?.uploadId);
    expect(result.alreadyPresent).toBe(false);
    expect(digest(await readObject(TARGET_BUCKET, job.targetPath))).toBe(digest(content));
  });

  it('trusts the parts S3 holds over the checkpoint', async () => {
    const { job, input, content } = await scenario(MULTIPART_SIZE);
    const flaky = instrumentedS3((command, _input, n) => {
      if (command === 'UploadPartCopy' && n > 2) throw new Error('simulated timeout');
    });
    await expect(copyS3Object(deps(flaky.s3, MULTIPART), input)).rejects.toThrow('simulated timeout');
    // A checkpoint claiming every part (as if S3 had lost some): the parts must come from S3, not from here.
    const interrupted = (await checkpointOf(job)) as S3CopyCheckpoint;
    const claimed = Array.from({ length: MULTIPART_PARTS }, (_, i) => ({
      PartNumber: i + 1,
      ETag: '"claimed"',
      ChecksumSHA256: 'claimed',
    }));
    const overclaiming = await jobs.recordWork(job, input.lease, { checkpoint: { s3Copy: { ...interrupted, parts: claimed } } });

    const retry = instrumentedS3();
    await copyS3Object(deps(retry.s3, MULTIPART), { ...input, job: overclaiming });

    expect(retry.calls.UploadPartCopy).toBe(MULTIPART_PARTS - 2);
    expect((await checkpointOf(job))?.parts.some((p) => p.ETag === '"claimed"' || p.ChecksumSHA256 === 'claimed')).toBe(false);
    expect(digest(await readObject(TARGET_BUCKET, job.targetPath))).toBe(digest(content));
  });

  it('aborts uploads to the target key that are not its own', async () => {
    const { job, input, content } = await scenario(MULTIPART_SIZE);
    const stale = await plainS3.send(new CreateMultipartUploadCommand({ Bucket: TARGET_BUCKET, Key: job.targetPath }));
    await plainS3.send(
      new UploadPartCommand({
        Bucket: TARGET_BUCKET,
        Key: job.targetPath,
        UploadId: stale.UploadId,
        PartNumber: 1,
        Body: randomBytes(1024),
      }),
    );
    // A longer key under the same prefix belongs to another transfer and stays.
    const neighbour = await plainS3.send(
      new CreateMultipartUploadCommand({ Bucket: TARGET_BUCKET, Key: `${job.targetPath}.other` }),
    );
    expect(await targetUploads(job.targetPath)).toHaveLength(2);
    const { s3, calls } = instrumentedS3();

    await copyS3Object(deps(s3, MULTIPART), input);

    expect(calls.AbortMultipartUpload).toBe(1);
    expect(await targetUploads(job.targetPath)).toEqual([neighbour.UploadId]);
    expect(digest(await readObject(TARGET_BUCKET, job.targetPath))).toBe(digest(content));
  });
});

describe('checksums: S3 computes the SHA-256, the result records it', () => {
  const sha256 = (data: Buffer) => createHash('sha256').update(data);
  /** The part size of MULTIPART's copies (MULTIPART_SIZE is far below the 10,000-part limit). */
  const PART_SIZE = MiB;

  function partsOf(content: Buffer, partSize: number): Buffer[] {
    const parts: Buffer[] = [];
    for (let at = 0; at < content.length; at += partSize) parts.push(content.subarray(at, at + partSize));
    return parts;
  }

  /** S3's COMPOSITE SHA-256, computed from the content: the SHA-256 of the parts' raw digests, then -<parts>. */
  function composite(content: Buffer, partSize: number): string {
    const digests = partsOf(content, partSize).map((part) => sha256(part).digest());
    return `${sha256(Buffer.concat(digests)).digest('base64')}-${digests.length}`;
  }

  /** The checksum S3 reports for the target object when asked (ChecksumMode ENABLED). */
  async function targetChecksum(key: string) {
    const head = await plainS3.send(new HeadObjectCommand({ Bucket: TARGET_BUCKET, Key: key, ChecksumMode: 'ENABLED' }));
    return { value: head.ChecksumSHA256, type: head.ChecksumType };
  }

  it('a single copy records the SHA-256 of the source bytes, which S3 computed for the copy', async () => {
    const { job, input, content } = await scenario(300 * 1024);
    const { s3, sent } = instrumentedS3();

    const result = await copyS3Object(deps(s3, DEFAULT_S3_COPY_CONFIG), input);

    expect(result.sha256).toBe(sha256(content).digest('hex'));
    expect(result.checksum).toBeUndefined();
    expect(sent.find((s) => s.command === 'CopyObject')?.input.ChecksumAlgorithm).toBe('SHA256');
    expect(await targetChecksum(job.targetPath)).toEqual({ value: sha256(content).digest('base64'), type: 'FULL_OBJECT' });
    expect((await jobs.get(job))?.result).toEqual(result);
  });

  it('a multipart copy records the composite checksum of its parts, with the part size that reproduces it', async () => {
    const { job, input, content } = await scenario(MULTIPART_SIZE);
    const { s3, sent } = instrumentedS3();

    const result = await copyS3Object(deps(s3, MULTIPART), input);

    const expected = composite(content, PART_SIZE);
    expect(result.checksum).toEqual({ algorithm: 'SHA256', type: 'COMPOSITE', value: expected, partSize: PART_SIZE });
    // A composite checksum is not the content's SHA-256: none is claimed.
    expect(result.sha256).toBeUndefined();
    expect(sent.find((s) => s.command === 'CreateMultipartUpload')?.input.ChecksumAlgorithm).toBe('SHA256');
    const partChecksums = partsOf(content, PART_SIZE).map((part) => sha256(part).digest('base64'));
    const committed = sent.find((s) => s.command === 'CompleteMultipartUpload')?.input.MultipartUpload as {
      Parts: { ChecksumSHA256?: string }[];
    };
    expect(committed.Parts.map((p) => p.ChecksumSHA256)).toEqual(partChecksums);
    expect((await checkpointOf(job))?.parts.map((p) => p.ChecksumSHA256)).toEqual(partChecksums);
    expect(await targetChecksum(job.targetPath)).toEqual({ value: expected, type: 'COMPOSITE' });
    expect(digest(await readObject(TARGET_BUCKET, job.targetPath))).toBe(digest(content));
  });

  it('a resumed multipart copy completes with every part’s checksum (those copied before from S3’s part list)', async () => {
    const { job, input, content } = await scenario(MULTIPART_SIZE);
    const flaky = instrumentedS3((command, _input, n) => {
      if (command === 'UploadPartCopy' && n > 3) throw new Error('simulated connection reset');
    });
    await expect(copyS3Object(deps(flaky.s3, MULTIPART), input)).rejects.toThrow('simulated connection reset');
    expect((await checkpointOf(job))?.parts.every((p) => p.ChecksumSHA256)).toBe(true);

    const retry = instrumentedS3();
    const result = await copyS3Object(deps(retry.s3, MULTIPART), { ...input, job: (await jobs.get(job)) as TransferJob });

    expect(retry.calls).toMatchObject({ ListParts: 1, UploadPartCopy: MULTIPART_PARTS - 3, CompleteMultipartUpload: 1 });
    expect(result.checksum?.value).toBe(composite(content, PART_SIZE));
    expect(await targetChecksum(job.targetPath)).toEqual({ value: composite(content, PART_SIZE), type: 'COMPOSITE' });
  });

  it('an upload checkpointed before part checksums were kept is not continued: it is aborted and the copy starts over', async () => {
    const { job, input, content } = await scenario(MULTIPART_SIZE);
    // An upload without a checksum algorithm, three parts copied, and the checkpoint the engine wrote then.
    const old = await plainS3.send(new CreateMultipartUploadCommand({ Bucket: TARGET_BUCKET, Key: job.targetPath }));
    const parts = [];
    for (const PartNumber of [1, 2, 3]) {
      const first = (PartNumber - 1) * PART_SIZE;
      const copied = await plainS3.send(
        new UploadPartCopyCommand({
          Bucket: TARGET_BUCKET,
          Key: job.targetPath,
          UploadId: old.UploadId,
          PartNumber,
          CopySource: `${SOURCE_BUCKET}/${job.sourcePath}`,
          CopySourceRange: `bytes=${first}-${first + PART_SIZE - 1}`,
        }),
      );
      parts.push({ PartNumber, ETag: copied.CopyPartResult?.ETag });
    }
    const source = await plainS3.send(new HeadObjectCommand({ Bucket: SOURCE_BUCKET, Key: job.sourcePath }));
    const checkpoint = { uploadId: old.UploadId, partSize: PART_SIZE, sourceEtag: source.ETag?.replace(/"/g, ''), parts };
    const before = await jobs.recordWork(job, input.lease, { checkpoint: { s3Copy: checkpoint } });
    const { s3, calls } = instrumentedS3();

    const result = await copyS3Object(deps(s3, MULTIPART), { ...input, job: before });

    expect(calls).toMatchObject({ AbortMultipartUpload: 1, CreateMultipartUpload: 1, UploadPartCopy: MULTIPART_PARTS });
    expect(await checkpointOf(job)).toMatchObject({ checksumAlgorithm: 'SHA256' });
    expect((await checkpointOf(job))?.uploadId).not.toBe(old.UploadId);
    expect(result.checksum?.value).toBe(composite(content, PART_SIZE));
    expect(await targetUploads(job.targetPath)).toEqual([]);
    expect(digest(await readObject(TARGET_BUCKET, job.targetPath))).toBe(digest(content));
  });

  it.each([
    ['single', DEFAULT_S3_COPY_CONFIG],
    ['multipart', MULTIPART],
  ])('a target already delivered records the checksum S3 reports for it, as the delivery did (%s)', async (_path, config) => {
    const { job, input } = await scenario(MULTIPART_SIZE);
    const first = await copyS3Object(deps(instrumentedS3().s3, config), input);
    const { s3, sent } = instrumentedS3();

    const again = await copyS3Object(deps(s3, config), { ...input, job: (await jobs.get(job)) as TransferJob });

    expect(again).toEqual({ ...first, alreadyPresent: true });
    expect(sent.find((s) => s.command === 'HeadObject' && s.input.Bucket === TARGET_BUCKET)?.input.ChecksumMode).toBe('ENABLED');
  });

  it('the local S3 refuses a commit without, or with a wrong, part checksum, as S3 does', async () => {
    const { job } = await scenario(1024);
    const upload = await plainS3.send(
      new CreateMultipartUploadCommand({ Bucket: TARGET_BUCKET, Key: job.targetPath, ChecksumAlgorithm: 'SHA256' }),
    );
    const target = { Bucket: TARGET_BUCKET, Key: job.targetPath, UploadId: upload.UploadId };
    const part = await plainS3.send(
      new UploadPartCopyCommand({ ...target, PartNumber: 1, CopySource: `${SOURCE_BUCKET}/${job.sourcePath}` }),
    );
    const ETag = part.CopyPartResult?.ETag;
    expect((await plainS3.send(new ListPartsCommand(target))).Parts?.[0]?.ChecksumSHA256).toBe(
      part.CopyPartResult?.ChecksumSHA256,
    );

    const commit = (Parts: { PartNumber: number; ETag?: string; ChecksumSHA256?: string }[]) =>
      plainS3.send(new CompleteMultipartUploadCommand({ ...target, MultipartUpload: { Parts } }));

    await expect(commit([{ PartNumber: 1, ETag }])).rejects.toMatchObject({
      name: 'InvalidRequest',
      message: expect.stringMatching(/must include the checksum for each part/),
    });
    await expect(
      commit([{ PartNumber: 1, ETag, ChecksumSHA256: sha256(Buffer.from('x')).digest('base64') }]),
    ).rejects.toMatchObject({ name: 'InvalidPart' });
    expect(await readObject(TARGET_BUCKET, job.targetPath)).toBeUndefined();
  });

  it('the local S3 reports no checksum for an object overwritten without one', async () => {
    const { job, input } = await scenario(1024);
    await copyS3Object(deps(instrumentedS3().s3, DEFAULT_S3_COPY_CONFIG), input);
    expect((await targetChecksum(job.targetPath)).value).toBeDefined();

    await putObject(TARGET_BUCKET, job.targetPath, randomBytes(1024));

    expect(await targetChecksum(job.targetPath)).toEqual({ value: undefined, type: undefined });
  });
});

describe('a target that already exists', () => {
  it('holding the same content: succeeds without copying (no second delivery)', async () => {
    const { job, input, content } = await scenario(64 * 1024);
    await putObject(TARGET_BUCKET, job.targetPath, content);
    const before = await plainS3.send(new HeadObjectCommand({ Bucket: TARGET_BUCKET, Key: job.targetPath }));
    const { s3, calls } = instrumentedS3();

    const result = await copyS3Object(deps(s3, DEFAULT_S3_COPY_CONFIG), input);

    expect(result).toEqual({
      bytes: content.length,
      etag: before.ETag,
      location: `s3://target/${job.targetPath}`,
      alreadyPresent: true,
    });
    expect(mutationsSent(calls)).toEqual([]);
    expect((await jobs.get(job))?.result).toEqual(result);
  });

  it('delivered by an earlier multipart attempt: succeeds without copying again', async () => {
    const { job, input, content } = await scenario(MULTIPART_SIZE);
    await copyS3Object(deps(instrumentedS3().s3, MULTIPART), input);
    const { s3, calls } = instrumentedS3();

    const result = await copyS3Object(deps(s3, MULTIPART), { ...input, job: (await jobs.get(job)) as TransferJob });

    expect(result.alreadyPresent).toBe(true);
    expect(mutationsSent(calls)).toEqual([]);
    expect(digest(await readObject(TARGET_BUCKET, job.targetPath))).toBe(digest(content));
  });

  it.each([
    ['single', DEFAULT_S3_COPY_CONFIG],
    ['multipart', MULTIPART],
  ])('holding different content: fails with TARGET_EXISTS and leaves it as it was (%s)', async (_path, config) => {
    const { job, input } = await scenario(MULTIPART_SIZE);
    const other = randomBytes(MULTIPART_SIZE);
    await putObject(TARGET_BUCKET, job.targetPath, other);
    const { s3, calls } = instrumentedS3();

    const copying = copyS3Object(deps(s3, config), input);

    await expect(copying).rejects.toBeInstanceOf(TargetExistsError);
    await expect(copying).rejects.toMatchObject({ code: 'TARGET_EXISTS' });
    expect(mutationsSent(calls)).toEqual([]);
    expect(digest(await readObject(TARGET_BUCKET, job.targetPath))).toBe(digest(other));
  });

  it('written by someone else during a multipart copy: fails with TARGET_EXISTS before the commit and drops the upload', async () => {
    const { job, input } = await scenario(MULTIPART_SIZE);
    const intruder = randomBytes(1024);
    const { s3, calls } = instrumentedS3(async (command, _input, n) => {
      if (command === 'UploadPartCopy' && n === MULTIPART_PARTS) await putObject(TARGET_BUCKET, job.targetPath, intruder);
    });

    await expect(copyS3Object(deps(s3, MULTIPART), input)).rejects.toBeInstanceOf(TargetExistsError);

    expect(calls.CompleteMultipartUpload).toBeUndefined();
    expect(await targetUploads(job.targetPath)).toEqual([]);
    expect(digest(await readObject(TARGET_BUCKET, job.targetPath))).toBe(digest(intruder));
  });
});

describe('source problems', () => {
  it('fails with SOURCE_MISSING when the source does not exist', async () => {
    const job = await runningJob();
    const { s3, calls } = instrumentedS3();

    const copying = copyS3Object(deps(s3, DEFAULT_S3_COPY_CONFIG), {
      job,
      lease: lease(job),
      source: { bucket: SOURCE_BUCKET, key: 'in/never-written.bin', owner: SOURCE_OWNER },
      target: { bucket: TARGET_BUCKET, key: job.targetPath, owner: TARGET_OWNER },
    });

    await expect(copying).rejects.toBeInstanceOf(SourceMissingError);
    await expect(copying).rejects.toMatchObject({ code: 'SOURCE_MISSING' });
    expect(mutationsSent(calls)).toEqual([]);
  });

  it('fails with SOURCE_CHANGED when the source is overwritten mid-copy, and drops the upload', async () => {
    const { job, input } = await scenario(MULTIPART_SIZE);
    const { s3, calls } = instrumentedS3(async (command, _input, n) => {
      if (command === 'UploadPartCopy' && n === 2) await putObject(SOURCE_BUCKET, job.sourcePath, randomBytes(MULTIPART_SIZE));
    });

    // One part at a time: s3rver rewrites an object in place, so a part read while the source is
    // being overwritten would see a truncated file (S3 replaces objects atomically).
    const copying = copyS3Object(deps(s3, { ...MULTIPART, partConcurrency: 1 }), input);

    await expect(copying).rejects.toBeInstanceOf(SourceChangedError);
    await expect(copying).rejects.toMatchObject({ code: 'SOURCE_CHANGED' });
    expect(calls.CompleteMultipartUpload).toBeUndefined();
    expect(await readObject(TARGET_BUCKET, job.targetPath)).toBeUndefined();
    expect(await targetUploads(job.targetPath)).toEqual([]);
  });
});

describe('keys with characters that URLs reserve', () => {
  it.each([
    ['CopyObject', 1024],
    ['UploadPartCopy', MULTIPART_SIZE],
  ])('copies set/hash#1 ?&+=;:@,$.txt byte for byte (%s)', async (_how, size) => {
    const { job, input, content } = await scenario(size);
    const key = `set-${job.jobId}/hash#1 ?&+=;:@,$.txt`;
    await putObject(SOURCE_BUCKET, key, content);
    const { s3 } = instrumentedS3();

    const result = await copyS3Object(deps(s3, size > 1024 ? MULTIPART : DEFAULT_S3_COPY_CONFIG), {
      ...input,
      source: { ...input.source, key },
    });

    expect(result.bytes).toBe(size);
    expect(digest(await readObject(TARGET_BUCKET, job.targetPath))).toBe(digest(content));
  });

  it('says so when S3 cannot find a copy source that is still there (COPY_SOURCE_NOT_FOUND, not SOURCE_MISSING)', async () => {
    const { input } = await scenario(1024);
    // The copy names another key than the one the engine read: S3 answers NoSuchKey, the source is untouched.
    const { s3 } = instrumentedS3((command, sent) => {
      if (command !== 'CopyObject') return;
      sent.CopySource = `${SOURCE_BUCKET}/not-${input.source.key}`;
      delete sent.CopySourceIfMatch;
    });

    const copying = copyS3Object(deps(s3, DEFAULT_S3_COPY_CONFIG), input);

    await expect(copying).rejects.toBeInstanceOf(CopySourceNotFoundError);
    await expect(copying).rejects.toThrow(/which HeadObject still finds/);
  });
});

describe('bucket ownership: every request names the owner, and S3 refuses another', () => {
  it.each([
    ['CopyObject', 1024],
    ['UploadPartCopy', MULTIPART_SIZE],
  ])('names the expected owner of every bucket it touches (%s)', async (_how, size) => {
    const { input } = await scenario(size);
    const { s3, sent } = instrumentedS3();

    await copyS3Object(deps(s3, size > 1024 ? MULTIPART : DEFAULT_S3_COPY_CONFIG), input);

    expect(sent.length).toBeGreaterThan(2);
    for (const { command, input: request } of sent) {
      expect({ command, owner: request.ExpectedBucketOwner }).toEqual({ command, owner: OWNER_OF[String(request.Bucket)] });
      if (request.CopySource)
        expect({ command, source: request.ExpectedSourceBucketOwner }).toEqual({ command, source: SOURCE_OWNER });
    }
  });

  it.each([
    ['a source bucket', 'source'],
    ['a target bucket', 'target'],
  ] as const)('is refused %s of another account, and writes nothing (CopyObject and UploadPartCopy)', async (_what, side) => {
    for (const size of [1024, MULTIPART_SIZE]) {
      const { job, input } = await scenario(size);
      const { s3 } = instrumentedS3();
      const claimed = { ...input, [side]: { ...input[side], owner: '333333333333' } };

      const copying = copyS3Object(deps(s3, size > 1024 ? MULTIPART : DEFAULT_S3_COPY_CONFIG), claimed);

      await expect(copying).rejects.toBeInstanceOf(AccessDeniedError);
      expect(await readObject(TARGET_BUCKET, job.targetPath)).toBeUndefined();
      expect(await targetUploads(job.targetPath)).toEqual([]);
    }
  });

  it('sends nothing at all without an owner (the client refuses before the request leaves)', async () => {
    const { input } = await scenario(1024);
    const { s3, calls } = instrumentedS3();
    const unowned = { ...input, source: { ...input.source, owner: '' } };

    await expect(copyS3Object(deps(s3, DEFAULT_S3_COPY_CONFIG), unowned)).rejects.toThrow(/without ExpectedBucketOwner/);
    expect(calls).toEqual({});
  });
});

describe('fencing: a stale owner never commits', () => {
  it.each([
    ['single', DEFAULT_S3_COPY_CONFIG],
    ['multipart', MULTIPART],
  ])('refuses to start under a lease older than the job’s (%s)', async (_path, config) => {
    // The job was last written under epoch 2; the copy still holds epoch 1.
    const { job, input } = await scenario(MULTIPART_SIZE, 2);
    const stray = await plainS3.send(new CreateMultipartUploadCommand({ Bucket: TARGET_BUCKET, Key: job.targetPath }));
    const { s3, calls } = instrumentedS3();

    await expect(copyS3Object(deps(s3, config), input)).rejects.toBeInstanceOf(StaleOwnerError);

    expect(mutationsSent(calls)).toEqual([]);
    expect(await readObject(TARGET_BUCKET, job.targetPath)).toBeUndefined();
    // Not even the uploads of the owner that replaced it are touched.
    expect(await targetUploads(job.targetPath)).toEqual([stray.UploadId]);
  });

  it('stops before the commit when the job is taken over during the copy', async () => {
    const { job, input } = await scenario(MULTIPART_SIZE);
    const east = { actor: 'sfn:east', region: 'us-gov-east-1' };
    const { s3, calls } = instrumentedS3(async (command, _input, n) => {
      if (command === 'UploadPartCopy' && n === 2) {
        await jobs.transition(job, 'FAILED', { ...east, errorCode: 'TAKEN_OVER', fence: { ...lease(job, 2), ...east } });
      }
    });

    // A checkpoint after every part, one part at a time: the first refused write stops the copy.
    const config = { ...MULTIPART, partConcurrency: 1, checkpointIntervalMs: 0 };
    await expect(copyS3Object(deps(s3, config), input)).rejects.toBeInstanceOf(StaleOwnerError);

    expect(calls.UploadPartCopy).toBe(2);
    expect(calls.CompleteMultipartUpload).toBeUndefined();
    expect(await readObject(TARGET_BUCKET, job.targetPath)).toBeUndefined();
  });

  it('stops before the commit when the lease can no longer be renewed', async () => {
    const { job, input } = await scenario(MULTIPART_SIZE);
    const { s3, calls } = instrumentedS3();
    // The lease is lost while parts are being copied.
    const renewLease = async () => {
      if (calls.UploadPartCopy) throw new StaleOwnerError('the lease moved to us-gov-east-1');
    };

    await expect(copyS3Object(deps(s3, MULTIPART, { renewLease }), input)).rejects.toBeInstanceOf(StaleOwnerError);

    expect(calls.UploadPartCopy).toBe(MULTIPART_PARTS);
    expect(calls.CompleteMultipartUpload).toBeUndefined();
    expect(await readObject(TARGET_BUCKET, job.targetPath)).toBeUndefined();
  });
});
