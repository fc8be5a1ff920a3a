/** The data-plane half of the S3 driver: objects as sources and targets of the worker's copies. */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Endpoint } from '../../../domain/endpoint';
import type { Location } from '../../../domain/location';
import { TransferError } from '../../../domain/transfer/errors';
import type { DataPlaneDriver, FileSource, FileTarget, TransferIo } from '../../../domain/transfer/io';
import { isS3Location, type S3ObjectLocation } from '../location';
import { S3FileSource } from './source';
import { S3FileTarget } from './target';

export interface S3DataPlaneDeps {
  /** The S3 client for a bucket's region. */
  s3: (region: string) => S3Client;
}

function s3PlaceOf(location: Location): S3ObjectLocation {
  if (!isS3Location(location)) throw new TransferError('FLOW_MISMATCH', 'expected an S3 location');
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
  };
}
