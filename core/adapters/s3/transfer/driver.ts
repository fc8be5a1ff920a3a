/** The data-plane half of the S3 driver: objects as sources and targets of the worker's copies. */
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Endpoint } from '../../../domain/endpoint';
import type { Location } from '../../../domain/location';
import type { DestinationState } from '../../../domain/ports';
import { s3Failure, s3HttpStatus, TransferError } from '../../../domain/transfer/errors';
import type { DataPlaneDriver, FileSource, FileTarget, TransferIo } from '../../../domain/transfer/io';
import { s3DestinationState } from '../../destination-inspector';
import { bucketOf } from '../bucket-owner';
import { s3Location } from './objects';
import { S3FileSource } from './source';
import { S3FileTarget } from './target';

export interface S3DataPlaneDeps {
  /** The S3 client for a bucket's region. */
  s3: (region: string) => S3Client;
}

type S3Place = Extract<Location, { kind: 's3' }>;

function s3PlaceOf(location: Location): S3Place {
  if (location.kind !== 's3') throw new TransferError('FLOW_MISMATCH', 'expected an S3 location');
  return location;
}

export function s3DataPlane(deps: S3DataPlaneDeps): DataPlaneDriver {
  return {
    durable: true,

    openSource(_endpoint: Endpoint, location: Location, io: TransferIo): FileSource {
      const from = s3PlaceOf(location);
      return new S3FileSource(deps.s3(from.region), from, io);
    },

    openTarget(_endpoint: Endpoint, location: Location, io: TransferIo): FileTarget {
      const to = s3PlaceOf(location);
      return new S3FileTarget(deps.s3(to.region), { ...to, mustNotExist: true }, io);
    },

    /** HeadObject with ChecksumMode ENABLED, so that S3 reports the object's SHA-256 checksum if it has one. */
    async inspectWith(_endpoint: Endpoint, location: Location): Promise<DestinationState | undefined> {
      const at = s3PlaceOf(location);
      try {
        const head = await deps
          .s3(at.region)
          .send(new HeadObjectCommand({ ...bucketOf(at), Key: at.key, ChecksumMode: 'ENABLED' }));
        return s3DestinationState(head);
      } catch (err) {
        if (s3HttpStatus(err) === 404) return undefined;
        throw s3Failure(err, s3Location(at));
      }
    },
  };
}
