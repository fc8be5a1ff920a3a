import { deterministicId, sha256Hex } from './ids';
import type { AfterTransferOutcome, JobTrigger } from './triggers';

export const JOB_STATUSES = ['RECEIVED', 'QUEUED', 'RUNNING', 'VERIFYING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** The flows of the built-in drivers (S3, SFTP), as jobs store them. */
export const FLOW_TYPES = ['SFTP_TO_SFTP', 'SFTP_TO_S3', 'S3_TO_S3', 'S3_TO_SFTP'] as const satisfies readonly FlowType[];
/** `<source driver kind>_TO_<target driver kind>` (ControlPlaneDriver.kind), e.g. SFTP_TO_S3. */
export type FlowType = `${string}_TO_${string}`;

/**
 * The lifecycle, as the set of states each state may be entered from.
 * Monotonic: no state can be re-entered and nothing leaves a terminal state.
 * CANCELLED is possible before execution starts, and after it only for a job
 * whose execution is gone (the customer's way out; under the partition lease,
 * see core/control-plane/transfers/orphans.ts).
 */
export const ENTERED_FROM: Record<JobStatus, readonly JobStatus[]> = {
  RECEIVED: [],
  QUEUED: ['RECEIVED'],
  RUNNING: ['QUEUED'],
  VERIFYING: ['RUNNING'],
  SUCCEEDED: ['VERIFYING'],
  FAILED: ['RECEIVED', 'QUEUED', 'RUNNING', 'VERIFYING'],
  CANCELLED: ['RECEIVED', 'QUEUED', 'RUNNING', 'VERIFYING'],
};

export const TERMINAL_STATUSES: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return ENTERED_FROM[to].includes(from);
}

export interface JobTransition {
  status: JobStatus;
  at: string;
  region: string;
  actor: string;
}

export interface TransferJob {
  jobId: string;
  customerId: string;
  requestId?: string;
  flowType: FlowType;
  sourceEndpointId: string;
  sourcePath: string;
  targetEndpointId: string;
  targetPath: string;
  policyId?: string;
  partitionId: string;
  idempotencyKey: string;
  /** Hash of the parameters the key was first used with; a key reused for other parameters is refused. */
  requestFingerprint: string;
  status: JobStatus;
  attempts: number;
  errorCode?: string;
  errorMessage?: string;
  createdAt: string;
  startedAt?: string;
  completedAt?: string;
  updatedAt: string;
  executionRegion?: string;
  /** Every state change, oldest first. */
  transitions: JobTransition[];
  /** Epoch of the partition lease under which the job was last written; lower epochs are refused. */
  fenceEpoch?: number;
  /**
   * The execution that moved the job to RUNNING (or resumed it). Executions of
   * one region share the lease epoch, so this is what tells another execution
   * of the same region that the job is not its to run.
   */
  runningExecutionId?: string;
  bytesTransferred?: number;
  bytesTotal?: number;
  /** The job this one re-drives, when it was created by a re-drive. */
  redriveOf?: string;
  /**
   * The first job of the re-drive chain this one belongs to (absent: the job's own id). A keyless re-drive
   * continues its original's chain; one under an Idempotency-Key starts its own (see redriveJob). The jobs of
   * a chain run one after another and write the same temporary file at an SFTP target, so a re-drive reuses
   * what a killed attempt left there.
   */
  chainId?: string;
  /** What started the job (a route's S3 event, a schedule's poll); absent for API requests. */
  trigger?: JobTrigger;
  /** An SFTP target folder that does not exist is created (absent: true). */
  createDirectories?: boolean;
  /** A scheduled pull's action on the source file (delete, move), run after SUCCEEDED; its outcome. */
  afterTransfer?: AfterTransferOutcome;
  /** Flow-specific checkpoint (e.g. completed multipart parts, staged object), so a retry continues. */
  checkpoint?: Record<string, unknown>;
  /** What the data plane delivered; the VERIFYING step checks the destination against it. */
  result?: TransferResult;
  /** The data plane's reason for failing, recorded before it exits. */
  lastError?: { code: string; message: string };
}

/** What arrived at the destination. */
export interface TransferResult {
  bytes: number;
  /**
   * SHA-256 of the content (hex), where the flow knows it: every streamed hop computes one; an S3→S3
   * single-part copy records the full-object SHA-256 that S3 computed for the copy (x-amz-checksum-sha256).
   */
  sha256?: string;
  /**
   * S3's checksum of the delivered object where it is not the content's SHA-256: a multipart S3→S3 copy's
   * COMPOSITE checksum. VerifyTransfer compares it, like sha256, with what S3 reports for the destination.
   */
  checksum?: ObjectChecksum;
  /** The destination object's ETag / version (S3 targets). */
  etag?: string;
  versionId?: string;
  /** Where it was delivered, e.g. s3://bucket/key or sftp://host/path. */
  location: string;
  /** True when the destination already held the same content and nothing was written (no second delivery). */
  alreadyPresent: boolean;
}

/** An S3 object checksum as S3 reports it (x-amz-checksum-sha256, x-amz-checksum-type). */
export interface ObjectChecksum {
  algorithm: 'SHA256';
  /**
   * FULL_OBJECT: the SHA-256 of the content. COMPOSITE (a multipart object): the SHA-256 of the parts'
   * SHA-256 digests concatenated, followed by `-<number of parts>`; it depends on the part size.
   */
  type: 'FULL_OBJECT' | 'COMPOSITE';
  /** Base64, as S3 sends it. */
  value: string;
  /** COMPOSITE: the size of every part but the last, so that the value can be recomputed from the content. */
  partSize?: number;
}

/** The content's SHA-256 (hex) that a full-object checksum is; undefined for a composite one. */
export function contentSha256(checksum: ObjectChecksum): string | undefined {
  if (checksum.type !== 'FULL_OBJECT') return undefined;
  const digest = Buffer.from(checksum.value, 'base64');
  return digest.length === 32 ? digest.toString('hex') : undefined;
}

/** Data-plane updates to a RUNNING job, made under its lease. */
export interface JobWork {
  bytesTransferred?: number;
  bytesTotal?: number;
  checkpoint?: Record<string, unknown>;
  result?: TransferResult;
  lastError?: { code: string; message: string };
}

/** What the source file looked like when the job was requested. */
export interface FileVersion {
  size?: number;
  /** Modification time (SFTP) in ms since the epoch. */
  modifiedAt?: number;
  /** S3 version id or ETag. */
  version?: string;
}

export interface IdempotencyInputs {
  sourceEndpointId: string;
  targetEndpointId: string;
  sourcePath: string;
  targetPath: string;
  file?: FileVersion;
}

/**
 * The idempotency key of spec 8.4.1: deterministic in source, target, path and
 * file metadata, so an event replayed or an API call retried maps to the same job,
 * while a new version of the same file gets a new job.
 */
export function deriveIdempotencyKey(inputs: IdempotencyInputs): string {
  const file = inputs.file ?? {};
  return sha256Hex(
    JSON.stringify([
      inputs.sourceEndpointId,
      inputs.sourcePath,
      inputs.targetEndpointId,
      inputs.targetPath,
      file.size ?? null,
      file.modifiedAt ?? null,
      file.version ?? null,
    ]),
  );
}

/** Job ids are derived from customer and key, so creation is one conditional put. */
export function jobIdFor(customerId: string, idempotencyKey: string): string {
  return deterministicId('job', customerId, idempotencyKey);
}

/** The shards of the jobs table's byActive index (the jobs not yet ended), so no index key gets hot. */
export const ACTIVE_SHARDS = 8;

export function activeShardOf(jobId: string): string {
  return String(Number.parseInt(sha256Hex(jobId).slice(0, 8), 16) % ACTIVE_SHARDS);
}

export function partitionIdFor(customerId: string, sourceEndpointId: string, targetEndpointId: string): string {
  return `${customerId}#${sourceEndpointId}#${targetEndpointId}`;
}
