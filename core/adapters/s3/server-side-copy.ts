import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type Part,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { z } from 'zod';
import { type Clock, systemClock } from '../../domain/clock';
import {
  AccessDeniedError,
  CopySourceNotFoundError,
  NotFoundError,
  SourceChangedError,
  SourceMissingError,
  StaleOwnerError,
  TargetExistsError,
} from '../../domain/errors';
import { contentSha256, type ObjectChecksum, type TransferJob, type TransferResult } from '../../domain/job';
import type { LeaseToken } from '../../domain/lease';
import { inParallel } from '../../domain/parallel';
import type { JobStore } from '../../domain/ports';
import { bucketOf } from './bucket-owner';
import { reportedChecksum } from './checksum';
import { s3ErrorKind, s3HttpStatus } from './errors';
import { S3_LIMITS, type S3CopyConfig } from './server-side-copy-config';

/**
 * S3→S3 transfer as a server-side copy: CopyObject up to the multipart
 * threshold, UploadPartCopy above it. No object bytes pass through this
 * process, so S3 computes the checksum (additional checksums, SHA-256):
 * - CopyObject: S3's full-object SHA-256 of the copy, recorded as the
 *   result's sha256 (hex), comparable with a hash of the source anywhere.
 * - Multipart: the upload is created with SHA-256, every part's checksum is
 *   kept with the part (also in the checkpoint) and sent with the commit; S3's
 *   object checksum is then COMPOSITE (the SHA-256 of the part digests, "-N"),
 *   recorded as the result's checksum with the part size that reproduces it.
 * - A target already delivered: its checksum, if HeadObject reports one.
 * VerifyTransfer compares the recorded checksum with the one S3 reports for
 * the destination (core/control-plane/orchestration/orchestration.ts).
 */

/** User metadata written on every copy: the source ETag, which a multipart copy's own ETag does not reveal. */
export const SOURCE_ETAG_METADATA = 'eft-source-etag';

export interface S3CopyDeps {
  s3: S3Client;
  /** What the copy reads and writes of its job: its checkpoint, and its progress and result. */
  jobs: Pick<JobStore, 'get' | 'recordWork'>;
  config: S3CopyConfig;
  /** Extends the partition lease; throws StaleOwnerError once it has moved on, so a stale owner never commits. */
  renewLease?: () => Promise<void>;
  /** Paces checkpoint writes. */
  clock?: Clock;
}

export interface S3CopyInput {
  job: TransferJob;
  lease: LeaseToken;
  /** `owner`: the account that must own the bucket (ExpectedBucketOwner); S3 refuses the request otherwise. */
  source: S3Ref & { versionId?: string };
  target: S3Ref & { kmsKeyId?: string };
}

interface S3Ref {
  bucket: string;
  key: string;
  owner: string;
}

/** What a multipart copy records on the job (checkpoint.s3Copy), so a retry or a takeover continues it. */
export interface S3CopyCheckpoint {
  uploadId: string;
  partSize: number;
  /** The source the parts were copied from; a checkpoint of another source version is not continued. */
  sourceEtag: string;
  sourceVersionId?: string;
  /**
   * The upload was created with SHA-256 checksums. A checkpoint without it (written before the engine
   * asked for checksums) is not continued: its upload cannot give its parts checksums, so it is aborted.
   */
  checksumAlgorithm: 'SHA256';
  parts: CopiedPart[];
}

/** A part as the commit needs it: S3 requires the part's checksum of an upload created with one. */
export interface CopiedPart {
  PartNumber: number;
  ETag: string;
  /** Base64, as S3 returned it. */
  ChecksumSHA256: string;
}

const checkpointSchema = z.object({
  uploadId: z.string().min(1),
  partSize: z.number().int().positive(),
  sourceEtag: z.string(),
  sourceVersionId: z.string().optional(),
  checksumAlgorithm: z.literal('SHA256'),
  parts: z.array(z.object({ PartNumber: z.number().int().positive(), ETag: z.string(), ChecksumSHA256: z.string().min(1) })),
});

/** The source as HeadObject saw it; every later read is pinned to this version. */
interface SourceObject extends S3Ref {
  size: number;
  /** Quoted, as S3 sends it and expects it back in CopySourceIfMatch. */
  etag: string;
  versionId?: string;
  head: HeadObjectCommandOutput;
}

interface CopyContext {
  deps: S3CopyDeps;
  input: S3CopyInput;
  source: SourceObject;
}

export async function copyS3Object(deps: S3CopyDeps, given: S3CopyInput): Promise<TransferResult> {
  const source = await headSource(deps.s3, given.source);
  const existing = await headTarget(deps.s3, given.target);
  // A multipart copy continues from the job's checkpoint as the store has it now: the job given may be
  // the one its claim wrote, older than the checkpoint an earlier attempt of this task wrote.
  const input = isMultipart(deps, source) ? { ...given, job: await storedJob(deps.jobs, given.job) } : given;
  const context = { deps, input, source };
  const result = existing ? alreadyDelivered(context, existing) : await copy(context);
  await deps.jobs.recordWork(input.job, input.lease, { result, bytesTransferred: result.bytes, bytesTotal: source.size });
  return result;
}

async function copy(context: CopyContext): Promise<TransferResult> {
  const { deps, input, source } = context;
  // Prove we still own the job before changing anything in S3: a stale owner must
  // neither write the target nor abort the uploads of the execution that replaced it.
  await deps.renewLease?.();
  if (!isMultipart(deps, source)) {
    // One CopyObject, which never replaces a key: the lease just renewed, and the job as this task
    // got it (read, or as its claim wrote it), are the proof (no write: the result's write is fenced
    // like any other). A job written under a newer epoch, or no longer RUNNING, is another owner's.
    refuseIfNotOurs(input.job, input.lease);
    return copyWhole(context);
  }
  await deps.jobs.recordWork(input.job, input.lease, { bytesTotal: source.size });
  return copyInParts(context);
}

function isMultipart(deps: S3CopyDeps, source: SourceObject): boolean {
  return source.size > deps.config.multipartThresholdBytes;
}

async function storedJob(jobs: S3CopyDeps['jobs'], job: TransferJob): Promise<TransferJob> {
  const stored = await jobs.get(job);
  if (!stored) throw new NotFoundError(`job ${job.jobId} not found`);
  return stored;
}

function refuseIfNotOurs(job: TransferJob, lease: LeaseToken): void {
  if ((job.fenceEpoch ?? 0) > lease.epoch) {
    throw new StaleOwnerError(`job ${job.jobId} was written under lease epoch ${job.fenceEpoch}; epoch ${lease.epoch} is stale`);
  }
  if (job.status !== 'RUNNING') throw new StaleOwnerError(`job ${job.jobId} is ${job.status}, not RUNNING under this lease`);
  if (job.runningExecutionId !== undefined && job.runningExecutionId !== lease.executionId) {
    throw new StaleOwnerError(`job ${job.jobId} is run by execution ${job.runningExecutionId}, not by ${lease.executionId}`);
  }
}

// ---------------------------------------------------------------------------
// Reading the source and the target

async function headSource(s3: S3Client, ref: S3CopyInput['source']): Promise<SourceObject> {
  try {
    const head = await s3.send(new HeadObjectCommand({ ...bucketOf(ref), Key: ref.key, VersionId: ref.versionId }));
    return {
      bucket: ref.bucket,
      key: ref.key,
      owner: ref.owner,
      size: head.ContentLength ?? 0,
      etag: head.ETag ?? '',
      ...(head.VersionId ? { versionId: head.VersionId } : {}),
      head,
    };
  } catch (error) {
    if (s3HttpStatus(error) === 404) throw new SourceMissingError(`source ${s3Url(ref)} does not exist`);
    throw accessDeniedOr(error, `reading ${s3Url(ref)}`);
  }
}

async function headTarget(s3: S3Client, target: S3CopyInput['target']): Promise<HeadObjectCommandOutput | undefined> {
  try {
    return await s3.send(new HeadObjectCommand({ ...bucketOf(target), Key: target.key, ChecksumMode: 'ENABLED' }));
  } catch (error) {
    if (s3HttpStatus(error) === 404) return undefined;
    throw accessDeniedOr(error, `reading ${s3Url(target)}`);
  }
}

/**
 * Whether the target already holds the source's content. A single-part copy keeps
 * the source's ETag (an MD5, unless SSE-KMS); a multipart copy gets an ETag of
 * its own, so the engine's metadata stands in for it.
 */
export function holdsSameContent(
  source: { size: number; etag: string },
  target: Pick<HeadObjectCommandOutput, 'ContentLength' | 'ETag' | 'Metadata'>,
): boolean {
  if (target.ContentLength !== source.size) return false;
  const etag = unquote(source.etag);
  return unquote(target.ETag ?? '') === etag || target.Metadata?.[SOURCE_ETAG_METADATA] === etag;
}

/**
 * The target exists: the same content is a delivery already made (no second one), anything else a
 * conflict. Its checksum is recorded if S3 has one; a composite one with the part size of this job's
 * upload of this source, when that part size gives its number of parts.
 */
function alreadyDelivered(
  { input, source }: CopyContext,
  target: HeadObjectCommandOutput,
  partSize = continuableCheckpoint(input.job, source)?.partSize,
): TransferResult {
  if (!holdsSameContent(source, target)) {
    throw new TargetExistsError(`target ${s3Url(input.target)} already exists with different content`);
  }
  return delivered(input, source, target, true, { checksum: reportedChecksum(target), partSize });
}

function delivered(
  input: S3CopyInput,
  source: SourceObject,
  target: { ETag?: string | undefined; VersionId?: string | undefined },
  alreadyPresent: boolean,
  s3Checksum: { checksum: ObjectChecksum | undefined; partSize?: number | undefined },
): TransferResult {
  return {
    bytes: source.size,
    ...recordedChecksum(s3Checksum.checksum, source.size, s3Checksum.partSize),
    ...(target.ETag ? { etag: target.ETag } : {}),
    ...(target.VersionId ? { versionId: target.VersionId } : {}),
    location: s3Url(input.target),
    alreadyPresent,
  };
}

/**
 * S3's checksum as the result keeps it: a full-object SHA-256 is the content's (sha256, hex, as the
 * other flows record it); a composite one is kept as S3 reports it, with the part size that reproduces it.
 */
function recordedChecksum(
  checksum: ObjectChecksum | undefined,
  size: number,
  partSize: number | undefined,
): Pick<TransferResult, 'sha256' | 'checksum'> {
  if (!checksum) return {};
  const sha256 = contentSha256(checksum);
  if (sha256) return { sha256 };
  const parts = Number(checksum.value.slice(checksum.value.lastIndexOf('-') + 1));
  const fits = partSize !== undefined && Math.ceil(size / partSize) === parts;
  return { checksum: { ...checksum, ...(fits ? { partSize } : {}) } };
}

// ---------------------------------------------------------------------------
// One CopyObject

async function copyWhole(context: CopyContext): Promise<TransferResult> {
  const { deps, input, source } = context;
  try {
    const output = await deps.s3.send(
      new CopyObjectCommand({
        ...bucketOf(input.target),
        Key: input.target.key,
        CopySource: copySource(source),
        ExpectedSourceBucketOwner: source.owner,
        CopySourceIfMatch: source.etag,
        // Never overwrite: a key written since our HeadObject fails the copy (412) instead.
        IfNoneMatch: '*',
        MetadataDirective: 'REPLACE',
        // S3 computes the copy's SHA-256 (full object) and returns it in CopyObjectResult.
        ChecksumAlgorithm: 'SHA256',
        ...targetAttributes(context),
      }),
    );
    const target = { ETag: output.CopyObjectResult?.ETag, VersionId: output.VersionId };
    return delivered(input, source, target, false, { checksum: reportedChecksum(output.CopyObjectResult) });
  } catch (error) {
    if (s3HttpStatus(error) === 412) return explainFailedPrecondition(context, error);
    throw await sourceErrorOr(deps.s3, error, source);
  }
}

/** CopyObject has two preconditions; whether the target now exists tells which one failed. */
async function explainFailedPrecondition(context: CopyContext, error: unknown): Promise<TransferResult> {
  const target = await headTarget(context.deps.s3, context.input.target);
  if (target) return alreadyDelivered(context, target);
  throw new SourceChangedError(`source ${s3Url(context.source)} changed during the copy (${errorMessage(error)})`);
}

/** What the target keeps of the source (content headers, user metadata), plus the engine's marker and encryption. */
function targetAttributes({ input, source }: CopyContext) {
  const { head } = source;
  return {
    ContentType: head.ContentType,
    ContentEncoding: head.ContentEncoding,
    ContentDisposition: head.ContentDisposition,
    ContentLanguage: head.ContentLanguage,
    CacheControl: head.CacheControl,
    Metadata: { ...head.Metadata, [SOURCE_ETAG_METADATA]: unquote(source.etag) },
    // Without a key of its own the target bucket's default encryption applies.
    ...(input.target.kmsKeyId ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: input.target.kmsKeyId } : {}),
  };
}

// ---------------------------------------------------------------------------
// Multipart copy

export interface PartRange {
  partNumber: number;
  /** First and last byte, inclusive (as in CopySourceRange). */
  first: number;
  last: number;
}

/**
 * The part size for an object: the configured size, raised (in whole MiB) until
 * the object fits S3's 10,000 parts, and never below the 5 MiB S3 minimum.
 */
export function partSizeFor(size: number, config: Pick<S3CopyConfig, 'partSizeBytes' | 'minPartSizeBytes'>): number {
  const MiB = 1024 * 1024;
  const forPartLimit = Math.ceil(size / S3_LIMITS.maxParts / MiB) * MiB;
  return Math.max(config.partSizeBytes, config.minPartSizeBytes, forPartLimit);
}

export function planParts(size: number, partSize: number): PartRange[] {
  const parts: PartRange[] = [];
  for (let first = 0, partNumber = 1; first < size; first += partSize, partNumber++) {
    parts.push({ partNumber, first, last: Math.min(first + partSize, size) - 1 });
  }
  return parts;
}

async function copyInParts(context: CopyContext): Promise<TransferResult> {
  const { deps, input, source } = context;
  const { uploadId, partSize, uploaded } = await resumeOrStart(context);
  const plan = planParts(source.size, partSize);
  const upload = { uploadId, partSize, ...sourcePin(source), checksumAlgorithm: 'SHA256' as const };
  const checkpoint = new CheckpointWriter(context, upload, plan);
  for (const part of plan) {
    const onS3 = uploaded.get(part.partNumber);
    // A part counts only if S3 has it at the size this plan gives it, with its checksum.
    if (onS3?.ETag && onS3.ChecksumSHA256 && onS3.Size === part.last - part.first + 1) {
      checkpoint.add({ PartNumber: part.partNumber, ETag: onS3.ETag, ChecksumSHA256: onS3.ChecksumSHA256 });
    }
  }
  await checkpoint.write(); // the upload id, before any part is copied into it

  try {
    const missing = plan.filter((part) => !checkpoint.has(part.partNumber));
    await inParallel(missing, deps.config.partConcurrency, async (part) => {
      await checkpoint.partCopied(await copyPart(context, uploadId, part));
    });
  } catch (error) {
    // A fenced write refused us: another owner has the job, so touch nothing more.
    if (error instanceof StaleOwnerError) throw error;
    const failure = await sourceErrorOr(deps.s3, error, source);
    // These do not heal on a retry, so the copied parts would only cost storage.
    // Best effort: if the abort fails, the next attempt's sweep (or a lifecycle rule) removes the upload.
    if (failure instanceof SourceChangedError || failure instanceof SourceMissingError) {
      await abortUpload(deps.s3, input.target, uploadId).catch(() => undefined);
    }
    throw await checkpoint.writeBeforeFailing(failure);
  }
  await checkpoint.write();
  return complete(context, { uploadId, partSize }, checkpoint.parts());
}

/** Continues the job's checkpointed upload if S3 still has it, else starts a new one; other uploads to the key are aborted. */
async function resumeOrStart(context: CopyContext): Promise<{ uploadId: string; partSize: number; uploaded: Map<number, Part> }> {
  const { deps, input, source } = context;
  const previous = continuableCheckpoint(input.job, source);
  // Uploads to this key other than ours are abandoned attempts (an earlier try of
  // this job, or the region that lost the lease); left alone they cost storage forever.
  await abortUploadsExcept(deps.s3, input.target, previous?.uploadId);
  if (previous) {
    const uploaded = await listUploadedParts(deps.s3, input.target, previous.uploadId);
    if (uploaded) return { uploadId: previous.uploadId, partSize: previous.partSize, uploaded };
  }
  const created = await deps.s3
    .send(
      new CreateMultipartUploadCommand({
        ...bucketOf(input.target),
        Key: input.target.key,
        // Every part gets its SHA-256 and the object a COMPOSITE one (the only type S3 has for SHA-256).
        ChecksumAlgorithm: 'SHA256',
        ...targetAttributes(context),
      }),
    )
    .catch((error: unknown) => {
      throw accessDeniedOr(error, `writing ${s3Url(input.target)}`);
    });
  if (!created.UploadId) throw new Error(`S3 returned no upload id for ${s3Url(input.target)}`);
  return { uploadId: created.UploadId, partSize: partSizeFor(source.size, deps.config), uploaded: new Map() };
}

/**
 * The job's checkpoint, if it is of this very source version, its upload has SHA-256 checksums and its
 * part size still fits S3's part limit.
 */
function continuableCheckpoint(job: TransferJob, source: SourceObject): S3CopyCheckpoint | undefined {
  const parsed = checkpointSchema.safeParse(job.checkpoint?.s3Copy);
  if (!parsed.success) return undefined;
  const checkpoint = parsed.data;
  const pin = sourcePin(source);
  const sameSource = checkpoint.sourceEtag === pin.sourceEtag && checkpoint.sourceVersionId === pin.sourceVersionId;
  return sameSource && Math.ceil(source.size / checkpoint.partSize) <= S3_LIMITS.maxParts ? checkpoint : undefined;
}

function sourcePin(source: SourceObject): Pick<S3CopyCheckpoint, 'sourceEtag' | 'sourceVersionId'> {
  return { sourceEtag: unquote(source.etag), ...(source.versionId ? { sourceVersionId: source.versionId } : {}) };
}

/** The parts S3 holds for the upload (S3 is trusted over the checkpoint), or undefined if the upload is gone. */
async function listUploadedParts(
  s3: S3Client,
  target: S3CopyInput['target'],
  uploadId: string,
): Promise<Map<number, Part> | undefined> {
  const parts = new Map<number, Part>();
  let marker: string | undefined;
  try {
    do {
      const page = await s3.send(
        new ListPartsCommand({ ...bucketOf(target), Key: target.key, UploadId: uploadId, PartNumberMarker: marker }),
      );
      for (const part of page.Parts ?? []) if (part.PartNumber) parts.set(part.PartNumber, part);
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
  } catch (error) {
    if (s3HttpStatus(error) === 404) return undefined; // NoSuchUpload: completed or aborted since the checkpoint
    throw accessDeniedOr(error, `listing the parts of ${s3Url(target)}`);
  }
  return parts;
}

async function abortUploadsExcept(s3: S3Client, target: S3CopyInput['target'], keep: string | undefined): Promise<void> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await s3
      .send(
        new ListMultipartUploadsCommand({
          ...bucketOf(target),
          Prefix: target.key,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      )
      .catch((error: unknown) => {
        throw accessDeniedOr(error, `listing the uploads of ${s3Url(target)}`);
      });
    for (const upload of page.Uploads ?? []) {
      // The prefix also matches longer keys; only this key's uploads are ours to abort.
      if (upload.Key === target.key && upload.UploadId && upload.UploadId !== keep) {
        await abortUpload(s3, target, upload.UploadId);
      }
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker);
}

async function abortUpload(s3: S3Client, target: S3CopyInput['target'], uploadId: string): Promise<void> {
  try {
    await s3.send(new AbortMultipartUploadCommand({ ...bucketOf(target), Key: target.key, UploadId: uploadId }));
  } catch (error) {
    if (s3HttpStatus(error) !== 404) throw accessDeniedOr(error, `aborting an upload to ${s3Url(target)}`);
  }
}

async function copyPart({ deps, input, source }: CopyContext, uploadId: string, part: PartRange): Promise<CopiedPart> {
  const output = await deps.s3.send(
    new UploadPartCopyCommand({
      ...bucketOf(input.target),
      Key: input.target.key,
      UploadId: uploadId,
      PartNumber: part.partNumber,
      CopySource: copySource(source),
      ExpectedSourceBucketOwner: source.owner,
      CopySourceRange: `bytes=${part.first}-${part.last}`,
      CopySourceIfMatch: source.etag,
    }),
  );
  const etag = output.CopyPartResult?.ETag;
  const checksum = output.CopyPartResult?.ChecksumSHA256;
  if (!etag || !checksum) {
    throw new Error(`S3 returned no ETag or no SHA-256 checksum for part ${part.partNumber} of ${s3Url(input.target)}`);
  }
  return { PartNumber: part.partNumber, ETag: etag, ChecksumSHA256: checksum };
}

async function complete(
  context: CopyContext,
  { uploadId, partSize }: { uploadId: string; partSize: number },
  parts: CopiedPart[],
): Promise<TransferResult> {
  const { deps, input, source } = context;
  // The last moment to find out we are no longer the owner: after this the object is visible.
  await deps.renewLease?.();
  const existing = await headTarget(deps.s3, input.target);
  if (existing) {
    await abortUpload(deps.s3, input.target, uploadId);
    return alreadyDelivered(context, existing, partSize);
  }
  try {
    const output = await deps.s3.send(
      new CompleteMultipartUploadCommand({
        ...bucketOf(input.target),
        Key: input.target.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
        // The HeadObject above leaves a window; S3's conditional write closes it (a key
        // created meanwhile fails the commit with 412). The local emulator ignores it.
        IfNoneMatch: '*',
      }),
    );
    return delivered(input, source, output, false, { checksum: reportedChecksum(output), partSize });
  } catch (error) {
    if (s3HttpStatus(error) !== 412) throw accessDeniedOr(error, `completing the upload to ${s3Url(input.target)}`);
    await abortUpload(deps.s3, input.target, uploadId);
    const target = await headTarget(deps.s3, input.target);
    if (!target) throw error;
    return alreadyDelivered(context, target, partSize);
  }
}

/**
 * Keeps the job's checkpoint up to date: written when the upload starts, at most
 * once per checkpointIntervalMs while parts complete, and before the copy returns
 * or fails. Writes are fenced by the lease and never overlap, so an older
 * snapshot cannot overwrite a newer one.
 */
class CheckpointWriter {
  private readonly done = new Map<number, CopiedPart>();
  private readonly partBytes = new Map<number, number>();
  private readonly clock: Clock;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly context: CopyContext,
    private readonly upload: Omit<S3CopyCheckpoint, 'parts'>,
    plan: PartRange[],
  ) {
    this.clock = context.deps.clock ?? systemClock;
    for (const part of plan) this.partBytes.set(part.partNumber, part.last - part.first + 1);
  }

  add(part: CopiedPart): void {
    this.done.set(part.PartNumber, part);
  }

  has(partNumber: number): boolean {
    return this.done.has(partNumber);
  }

  parts(): CopiedPart[] {
    return [...this.done.values()].sort((a, b) => a.PartNumber - b.PartNumber);
  }

  async partCopied(part: CopiedPart): Promise<void> {
    this.add(part);
    if (this.clock.now() - this.lastWriteAt >= this.context.deps.config.checkpointIntervalMs) await this.write();
  }

  write(): Promise<void> {
    this.lastWriteAt = this.clock.now();
    const written = this.queue.catch(() => undefined).then(() => this.record());
    this.queue = written;
    return written;
  }

  /** Records progress before a failure is raised; the failure to raise, unless the write says we lost the job. */
  async writeBeforeFailing(failure: unknown): Promise<unknown> {
    try {
      await this.write();
      return failure;
    } catch (error) {
      return error instanceof StaleOwnerError ? error : failure;
    }
  }

  private async record(): Promise<void> {
    const { jobs } = this.context.deps;
    const { job, lease } = this.context.input;
    const checkpoint: S3CopyCheckpoint = { ...this.upload, parts: this.parts() };
    let bytesTransferred = 0;
    for (const partNumber of this.done.keys()) bytesTransferred += this.partBytes.get(partNumber) ?? 0;
    await jobs.recordWork(job, lease, {
      checkpoint: { ...job.checkpoint, s3Copy: checkpoint },
      bytesTransferred,
      bytesTotal: this.context.source.size,
    });
  }
}

// ---------------------------------------------------------------------------
// Helpers

/** The x-amz-copy-source value: URL-encoded, and pinned to the version when the bucket is versioned. */
function copySource(source: SourceObject): string {
  const key = source.key.split('/').map(encodeURIComponent).join('/');
  return `${source.bucket}/${key}${source.versionId ? `?versionId=${encodeURIComponent(source.versionId)}` : ''}`;
}

/**
 * Errors of reads from the pinned source: a failed If-Match means it changed.
 * A 404 means it is gone only if it is gone: the source was seen when the copy
 * began, so it is looked up again; still there, the copy could not name it.
 */
async function sourceErrorOr(s3: S3Client, error: unknown, source: SourceObject): Promise<unknown> {
  const status = s3HttpStatus(error);
  if (status === 412) return new SourceChangedError(`source ${s3Url(source)} changed during the copy`);
  const name = (error as { name?: string })?.name;
  if (status === 404 && (name === 'NoSuchKey' || name === 'NoSuchVersion')) {
    const stillThere = await headSource(s3, source).then(
      () => true,
      () => false,
    );
    return stillThere
      ? new CopySourceNotFoundError(
          `S3 answered ${name} for the copy source ${s3Url(source)}, which HeadObject still finds: the copy did not reach it`,
        )
      : new SourceMissingError(`source ${s3Url(source)} was deleted during the copy`);
  }
  return accessDeniedOr(error, `copying ${s3Url(source)}`);
}

/**
 * 403 becomes a typed, permanent error. Everything else (5xx, throttling, network)
 * is left as the SDK raised it: transient, and retried by the state machine.
 */
function accessDeniedOr(error: unknown, doing: string): unknown {
  // A HeadObject 403 can also mean a missing key that the role may not list.
  return s3ErrorKind(error) === 'denied' ? new AccessDeniedError(`access denied ${doing}`) : error;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function unquote(etag: string): string {
  return etag.replace(/"/g, '');
}

function s3Url(location: { bucket: string; key: string }): string {
  return `s3://${location.bucket}/${location.key}`;
}
/** Throttling, 5xx and network trouble: worth another attempt (the state machine retries the task). */
export function isTransientS3Error(error: unknown): boolean {
  const kind = s3ErrorKind(error);
  return kind === 'transient' || kind === 'connection-lost';
}
