import type { S3Client } from '@aws-sdk/client-s3';
import type { EndpointDriver, ServerSideCopyRun } from '../../domain/drivers';
import type { Endpoint, ProbeOutcome } from '../../domain/endpoint';
import { TransientError, UnsupportedEndpointError } from '../../domain/errors';
import type { TransferResult } from '../../domain/job';
import type { Location } from '../../domain/location';
import type { DestinationState, SourceFile } from '../../domain/ports';
import type { DataPlaneDriver, FileSource, FileTarget, TargetOptions, TransferIo } from '../../domain/transfer/io';
import { FolderListing } from '../folder-listing';
import { inspectObject, listFolder, statObject } from './catalog';
import { isS3Location, resolveS3Location, type S3Endpoint, type S3ObjectLocation } from './location';
import { probeS3 } from './probe';
import { copyS3Object, isTransientS3Error } from './server-side-copy';
import type { S3CopyConfig } from './server-side-copy-config';
import { s3DataPlane } from './transfer/driver';

export interface S3DriverDeps {
  /** The client for a bucket's region (the control plane's functions use their own for every bucket). */
  s3(region: string): S3Client;
  /** Part size and concurrency of server-side copies. */
  copyConfig: S3CopyConfig;
}

/** S3 endpoints: a bucket and a key prefix, reached with the engine's own IAM role under the bucket owner's check. */
export class S3Driver implements EndpointDriver {
  readonly types = ['S3'] as const;
  readonly kind = 'S3';
  readonly durable = true;

  /** The worker's half: objects as sources and targets of streamed copies (./transfer). */
  private readonly data: DataPlaneDriver;

  constructor(private readonly deps: S3DriverDeps) {
    this.data = s3DataPlane(deps);
  }

  resolve(endpoint: Endpoint, relativePath: string): S3ObjectLocation {
    return resolveS3Location(this.own(endpoint), relativePath);
  }

  /** The same object whichever endpoint names it: two endpoints may share a bucket. */
  samePlace(_a: Endpoint, from: Location, _b: Endpoint, to: Location): boolean {
    return isS3Location(from) && isS3Location(to) && from.bucket === to.bucket && from.key === to.key;
  }

  probe(endpoint: Endpoint): Promise<ProbeOutcome> {
    const { s3 } = this.own(endpoint);
    return probeS3(this.deps.s3(s3.region), s3);
  }

  stat(_endpoint: Endpoint, location: Location, path: string): Promise<SourceFile | undefined> {
    const object = this.located(location);
    return statObject(this.deps.s3(object.region), object, path);
  }

  list(_endpoint: Endpoint, folder: Location, folderPath: string, pattern: string | undefined, limit: number) {
    const prefix = this.located(folder);
    return listFolder(this.deps.s3(prefix.region), prefix, new FolderListing(folderPath, pattern, limit));
  }

  inspect(_endpoint: Endpoint, location: Location): Promise<DestinationState | undefined> {
    const object = this.located(location);
    return inspectObject(this.deps.s3(object.region), object);
  }

  /** CopyObject / UploadPartCopy: the bytes stay in S3 (server-side-copy.ts). */
  async copyServerSide(from: Location, to: Location, run: ServerSideCopyRun): Promise<TransferResult> {
    const source = this.located(from);
    const target = this.located(to);
    try {
      return await copyS3Object(
        { s3: this.deps.s3(target.region), jobs: run.jobs, config: this.deps.copyConfig, renewLease: run.renewLease },
        {
          job: run.job,
          lease: run.lease,
          source: { bucket: source.bucket, key: source.key, owner: source.owner },
          target: {
            bucket: target.bucket,
            key: target.key,
            owner: target.owner,
            ...(target.kmsKeyId ? { kmsKeyId: target.kmsKeyId } : {}),
          },
        },
      );
    } catch (error) {
      // Throttling and 5xx: the state machine retries the task, and the copy resumes from its checkpoint.
      throw isTransientS3Error(error) ? new TransientError((error as Error).message) : error;
    }
  }

  openSource(endpoint: Endpoint, location: Location, io: TransferIo): FileSource {
    return this.data.openSource(endpoint, location, io);
  }

  openTarget(endpoint: Endpoint, location: Location, io: TransferIo, options: TargetOptions): FileTarget {
    return this.data.openTarget(endpoint, location, io, options);
  }

  private own(endpoint: Endpoint): S3Endpoint {
    if (endpoint.type !== 'S3') throw new UnsupportedEndpointError(endpoint.endpointId, endpoint.type);
    return endpoint;
  }

  private located(location: Location): S3ObjectLocation {
    if (!isS3Location(location)) throw new Error(`the S3 driver was handed a location it did not resolve: ${location.uri}`);
    return location;
  }
}
