/**
 * The data-plane half of the SFTP driver: files on partners' SFTP servers as
 * sources and targets of the worker's copies. One session per endpoint, kept
 * in the transfer's Connections: a batch's files share it.
 */
import type { Endpoint } from '../../../domain/endpoint';
import type { Location } from '../../../domain/location';
import type { DestinationState } from '../../../domain/ports';
import { TransferError } from '../../../domain/transfer/errors';
import type {
  Connections,
  DataPlaneDriver,
  FileSource,
  FileTarget,
  TargetOptions,
  TransferIo,
} from '../../../domain/transfer/io';
import { SftpConnector, type SftpEndpointDeps } from './connector';
import { SftpFileSource } from './source';
import { SftpFileTarget, temporaryPathFor } from './target';

function pathOf(location: Location): string {
  if (location.kind !== 'sftp') throw new TransferError('FLOW_MISMATCH', 'expected an SFTP location');
  return location.path;
}

export function sftpDataPlane(deps: SftpEndpointDeps): DataPlaneDriver {
  const connectorFor = (endpoint: Endpoint, connections: Connections) =>
    connections.keep(`sftp:${endpoint.endpointId}`, () => new SftpConnector(deps, endpoint));

  return {
    durable: false,

    openSource(endpoint: Endpoint, location: Location, io: TransferIo): FileSource {
      return new SftpFileSource(connectorFor(endpoint, io.connections), pathOf(location), io);
    },

    openTarget(endpoint: Endpoint, location: Location, io: TransferIo, options: TargetOptions): FileTarget {
      const path = pathOf(location);
      const connector = connectorFor(endpoint, io.connections);
      return new SftpFileTarget(connector, path, temporaryPathFor(path, options.jobId), endpoint.capabilities, io);
    },

    async inspectWith(endpoint: Endpoint, location: Location, connections: Connections): Promise<DestinationState | undefined> {
      const { channel } = await connectorFor(endpoint, connections).connect();
      const stats = await channel.statIfExists(pathOf(location));
      return stats ? { bytes: stats.size ?? 0 } : undefined;
    },
  };
}
