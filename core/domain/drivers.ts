/**
 * One driver per endpoint kind (S3, SFTP, and any kind added later): everything
 * the engine does with an endpoint goes through its driver, so the control
 * plane (API, orchestration tasks) and the data plane (the worker) never branch
 * on the endpoint's type. A kind is one folder under core/adapters/ that
 * implements this port, plus its settings schema.
 *
 * The data-plane half (FileSource, FileTarget) is defined in ./transfer/io.ts.
 */
import type { Endpoint, EndpointType, ProbeOutcome } from './endpoint';
import type { ErrorCode } from './error-codes';
import type { FlowType, TransferJob, TransferResult } from './job';
import type { LeaseToken } from './lease';
import type { Location } from './location';
import type { DestinationState, JobStore, SourceFile } from './ports';
import type { EndpointCredentials } from './secrets';
import type { Connections, DataPlaneDriver } from './transfer/io';

/** What the control plane asks of an endpoint. */
export interface ControlPlaneDriver {
  /** The endpoint types this driver serves (e.g. SFTP and TRANSFER_FAMILY_SFTP). */
  readonly types: readonly EndpointType[];
  /**
   * The short name of the kind in flow names (e.g. "S3", "SFTP"): a job from an
   * SFTP endpoint to an S3 one is an SFTP_TO_S3 job.
   */
  readonly kind: string;
  /**
   * Where a path relative to the endpoint lands on it (under its prefix or base
   * path, never outside). `relativePath` has already been checked for
   * traversal; the driver throws a domain error for anything else it cannot use
   * (e.g. BucketOwnerUnknownError).
   */
  resolve(endpoint: Endpoint, relativePath: string): Location;
  /** Whether two locations of this driver's endpoints are the same file or folder (a copy onto itself). */
  samePlace(a: Endpoint, from: Location, b: Endpoint, to: Location): boolean;
  /** Validation: can the engine reach and use the endpoint, and what can it do there. */
  probe(endpoint: Endpoint, credentials: EndpointCredentials | undefined): Promise<ProbeOutcome>;
  /** One file's metadata at request time; undefined if there is no such file. */
  stat(endpoint: Endpoint, location: Location, path: string): Promise<SourceFile | undefined>;
  /** The files (not folders) directly in a folder, matching the glob `pattern` if given, at most `limit`. */
  list(
    endpoint: Endpoint,
    folder: Location,
    folderPath: string,
    pattern: string | undefined,
    limit: number,
  ): Promise<SourceFile[]>;
  /**
   * What the destination holds now, for verification; undefined if nothing is
   * there. `connections`: a batch's worker verifies over the sessions its
   * transfers used instead of opening one per file.
   */
  inspect(endpoint: Endpoint, location: Location, connections?: Connections): Promise<DestinationState | undefined>;
  /**
   * Present where the driver copies between two of its own endpoints without
   * the bytes passing through the engine (S3 CopyObject): the state machine
   * then runs the copy in a Lambda instead of starting a worker. Resumable
   * (checkpoints on the job); a failure worth retrying is a TransientError.
   */
  copyServerSide?(from: Location, to: Location, run: ServerSideCopyRun): Promise<TransferResult>;
  /**
   * Source actions after a pulled file was delivered (a schedule's after-transfer action), present where the
   * kind can be a schedule's source. Each takes many files over ONE session (a poll may finish hundreds),
   * answers per file in their order, and is idempotent: a file already gone is ABSENT, not a failure. A
   * failure to reach the endpoint at all is thrown.
   */
  removeFiles?(endpoint: Endpoint, files: readonly Location[]): Promise<SourceActionResult[]>;
  /** Renames each file to `to` (or `otherwise` when `to` exists), creating the folder of `to` first if `createDirectories`. */
  moveFiles?(
    endpoint: Endpoint,
    moves: readonly FileMove[],
    options: { createDirectories: boolean },
  ): Promise<SourceActionResult[]>;
}

/** One file a source action moves (into an archive folder). */
export interface FileMove {
  from: Location;
  to: Location;
  /** Where it goes when `to` already holds a file (an earlier file of the same name); TARGET_EXISTS if both do. */
  otherwise?: Location;
}

/** What became of one file of a source action. */
export type SourceActionResult =
  /** Removed or moved now. */
  | { outcome: 'DONE'; movedTo?: string }
  /** Not there (any more): removed or moved by an earlier attempt, or by the partner. */
  | { outcome: 'ABSENT' }
  | { outcome: 'FAILED'; code: ErrorCode; message: string };

/** The job a server-side copy runs for, under its lease. */
export interface ServerSideCopyRun {
  job: TransferJob;
  lease: LeaseToken;
  /** Where the copy reads its checkpoint and records its progress and result (fenced by the lease). */
  jobs: Pick<JobStore, 'get' | 'recordWork'>;
  /** Extends the lease; throws once it has moved on, so a stale owner never commits. */
  renewLease: () => Promise<void>;
}

export interface EndpointDriver extends ControlPlaneDriver, DataPlaneDriver {}

/** The drivers the engine was built with, found by endpoint type. */
export interface Drivers {
  /** Throws UnsupportedEndpointError for a type no driver serves. */
  driverFor(endpoint: Pick<Endpoint, 'type' | 'endpointId'>): EndpointDriver;
  /** The driver of a kind as flow types name it (ControlPlaneDriver.kind), if the engine has one. */
  driverOfKind(kind: string): EndpointDriver | undefined;
}

/** A job's flow as jobs store it: the kinds of its source and target drivers, e.g. SFTP_TO_S3. */
export function flowTypeOf(source: ControlPlaneDriver, target: ControlPlaneDriver): FlowType {
  return `${source.kind}_TO_${target.kind}`;
}

/** A job between two endpoints of one driver that copies server-side needs no worker (and no batch). */
export function copiesServerSide(source: ControlPlaneDriver, target: ControlPlaneDriver): boolean {
  return source === target && source.copyServerSide !== undefined;
}

/**
 * copiesServerSide for a job, from the flow it stores: both ends are of one
 * driver exactly when the flow names one kind twice (S3_TO_S3), so starting a
 * job reads no endpoint.
 */
export function isServerSideCopy(drivers: Drivers, flow: FlowType): boolean {
  const kind = flow.slice(0, (flow.length - '_TO_'.length) / 2);
  const driver = drivers.driverOfKind(kind);
  return driver !== undefined && flow === flowTypeOf(driver, driver) && copiesServerSide(driver, driver);
}
