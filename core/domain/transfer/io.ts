/**
 * The data-plane half of an endpoint driver (see ../drivers.ts): how the worker
 * reads a file from an endpoint (FileSource) and writes one to it (FileTarget).
 * The copy itself (core/data-plane/copy-file.ts) is the same for every pair of
 * kinds: stat the source, settle or prepare the target, stream source → SHA-256
 * → target with resumable retries, commit without replacing anything.
 *
 * A source or target is opened for one file of one job and keeps that file's
 * state (the version read, the bytes the target holds) across the attempts.
 * Its methods retry their own requests where that is safe; `open` and `sink`
 * are one attempt each, retried by the copy.
 */
import type { Readable, Writable } from 'node:stream';
import type { Endpoint } from '../endpoint';
import type { Location } from '../location';
import type { Logger } from '../logger';
import type { WorkerConfig } from './tunables';

export type Checkpoint = Record<string, unknown>;

/** The job a transfer runs for, as drivers may touch it (core/data-plane/liveness.ts keeps it). */
export interface JobCheckpoint {
  /** What earlier attempts of the job recorded (e.g. an upload to abort, a file already claimed). */
  readonly checkpoint: Readonly<Checkpoint>;
  /** Merges `patch` into the checkpoint (undefined removes a field) and writes it now. */
  saveCheckpoint(patch: Checkpoint): Promise<void>;
  /** Throws LeaseLostError unless the lease is still ours right now: called right before anything becomes visible. */
  confirmLease(): Promise<void>;
}

/** A connection a driver keeps open for more than one request (an SSH session). */
export interface Connection {
  /** Closes it; it opens again when next used. */
  close(): Promise<void>;
  /** Removes the secrets it was opened with from a message (a second line of defence). */
  scrub(message: string): string;
}

/**
 * Connections shared by the files of one job, or of all the jobs of a batch
 * (one session per endpoint). Whoever made the scope closes them at its end.
 */
export interface Connections {
  /** The connection kept under `key`, made by `open` the first time. */
  keep<T extends Connection>(key: string, open: () => T): T;
}

/** What a source or target needs of the transfer it belongs to. */
export interface TransferIo {
  /** Aborted on SIGTERM (StoppedError) or when the lease is lost (LeaseLostError). */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly tunables: WorkerConfig;
  readonly job: JobCheckpoint;
  readonly connections: Connections;
}

export interface FileSource {
  /** e.g. sftp://host:22/path, for messages. */
  readonly location: string;
  /** The file's size; later reads are pinned to the version seen here, so a changed file fails rather than mixes. */
  stat(): Promise<number>;
  /** The content from `offset` to the end (one attempt). */
  open(offset: number, size: number): Promise<Readable>;
  /** SHA-256 (hex) of the whole content, to settle a target that already holds a file of the same size. */
  sha256(): Promise<string>;
  /** An error of this side's streams as a TransferError; anything else is returned unchanged. */
  failure(error: unknown): unknown;
  /** After a transient failure: drops the connection the attempt used, so the next one opens afresh. */
  reset(): Promise<void>;
}

/** What a target holds under the final name. */
export interface ExistingFile {
  bytes: number;
  /** The content's SHA-256, where the target keeps it with the file. */
  sha256?: string;
  etag?: string;
  versionId?: string;
}

/** A file made visible at the final name. */
export interface Committed {
  etag?: string;
  versionId?: string;
}

/** The stream a target receives the content through. */
export type FileSink = Writable & {
  /** How far the target has taken the content: the stall watchdog and the progress follow it. */
  readonly position: number;
};

export interface FileTarget {
  /** Where the file is delivered, e.g. s3://bucket/key, as the result records it. */
  readonly location: string;
  /** What a resumed attempt starts after, for the log (e.g. "the finished parts"). */
  readonly resumesAfter: string;
  /** What is at the final name now, if anything. */
  existing(): Promise<ExistingFile | undefined>;
  /** SHA-256 (hex) of `file`, as existing() found it. */
  sha256(file: ExistingFile): Promise<string>;
  /**
   * Gets ready for a file of `size` bytes: clears what a killed attempt of the
   * job left, claims the final name where the target writes in place. Returns
   * what holds the name instead when it is someone else's; nothing is written then.
   */
  prepare(size: number): Promise<ExistingFile | undefined>;
  /** A resumed attempt starts at a multiple of this (the hash keeps a snapshot at each). */
  resumeStep(size: number): number;
  /** Every byte below this offset is safely at the target. */
  kept(): number;
  /** Where the next attempt starts: kept(), or less when the target lost what it had. */
  resume(): Promise<number>;
  /** Receives the content from `offset` (one attempt). */
  sink(offset: number): Promise<FileSink>;
  /**
   * Makes the written file visible at the final name, never replacing a file
   * there. It calls `io.job.confirmLease()` right before the step that makes
   * the file visible (a rename, CompleteMultipartUpload), so a worker that
   * lost its lease never delivers. Undefined when someone else's file took
   * the name meanwhile.
   */
  commit(sha256: string): Promise<Committed | undefined>;
  /**
   * Removes what was written and not committed (best effort, bounded in time).
   * `reason`: the failure, if any; after loss of the lease a target may leave
   * what the job's next owner will reuse.
   */
  abort(reason?: unknown): Promise<void>;
  /** An error of this side's streams as a TransferError; anything else is returned unchanged. */
  failure(error: unknown): unknown;
  /** After a transient failure: drops the connection the attempt used, so the next one opens afresh. */
  reset(): Promise<void>;
}

export interface TargetOptions {
  /**
   * The job's re-drive chain (TransferJob.chainId, or its own id). A target that writes under a temporary
   * name first derives it from this: every attempt of every job of the chain reuses it (they run one after
   * another); no two chains share it.
   */
  chainId: string;
  /** An earlier attempt of the chain ran (a resumed job, a re-drive): it may have left a temporary file. */
  retried?: boolean;
  /**
   * A target folder that does not exist is created (the job's createDirectories;
   * absent: true). false: the write fails as the endpoint refuses it (TARGET_PATH_MISSING).
   * Endpoints without folders (object storage) ignore it.
   */
  createDirectories?: boolean;
}

export interface DataPlaneDriver {
  /** Keeps what is written durably (object storage): a copy between two endpoints that are not is staged through one. */
  readonly durable: boolean;
  openSource(endpoint: Endpoint, location: Location, io: TransferIo): FileSource;
  openTarget(endpoint: Endpoint, location: Location, io: TransferIo, options: TargetOptions): FileTarget;
}

/** The copy a staged transfer keeps between its two hops (the job's checkpoint records it as `staged`). */
export interface StagedFile {
  /** The staging area (bucket) of the region that made the copy. */
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
  etag: string;
  /** The copy's version, where the area keeps versions (a replica in the peer region has the same). */
  versionId?: string;
  /** When the first hop recorded it (ISO 8601): its replica in the peer region is due within the replication bound from then. */
  stagedAt?: string;
}

/** A staged copy as one region finds it (StagingArea.find). */
export type StagedCopy =
  /** In this region's area: the recorded copy itself, or (`replica`) the replica of one another region recorded. */
  | { status: 'present'; copy: StagedFile; replica: boolean }
  /** Recorded in another region's area and not replicated here (yet): replication may still bring it. */
  | { status: 'awaited' }
  /** Recorded in this region's area and gone, or changed. */
  | { status: 'lost' };

/**
 * The engine's own durable area that copies between two non-durable endpoints
 * are staged through: one per region, each replicated to the other's under the
 * same key (resources/buckets.yml), so either region can finish a job the
 * other staged. A region reads only its own area: the copy it made, or the
 * replica of the other's, never the other region's area itself.
 */
export interface StagingArea {
  /** Where the first hop writes the copy named `key`; a copy an earlier attempt left there is replaced. */
  target(key: string, io: TransferIo): FileTarget;
  /** The checkpoint's record of what the first hop delivered to `key`, at `stagedAt` (ISO 8601). */
  record(
    key: string,
    delivered: { bytes: number; sha256: string; etag?: string; versionId?: string },
    stagedAt: string,
  ): StagedFile;
  /**
   * The staged copy as this region can read it: the recorded one if it is in
   * this region's area, unchanged; the replica in this region's area if it was
   * recorded in another's and matches what the record can check at rest (the
   * content is checked again, byte for byte, before the second hop commits).
   */
  find(staged: StagedFile, signal: AbortSignal): Promise<StagedCopy>;
  /** The staged copy (as `find` returned it) as the second hop's source. */
  source(staged: StagedFile, io: TransferIo): FileSource;
  /** Removes the staged copy (as `find` returned it; best effort: the area's own expiry is the backstop). */
  remove(staged: StagedFile, logger: Logger): Promise<void>;
}
