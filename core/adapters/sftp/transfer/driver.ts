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
import { isSftpLocation, type SftpEndpoint } from '../location';
import { SftpConnector, type SftpEndpointDeps } from './connector';
import { SftpFileSource } from './source';
import { SftpFileTarget, temporaryPathFor } from './target';

function sftpEndpoint(endpoint: Endpoint): SftpEndpoint {
  if (endpoint.type !== 'SFTP' && endpoint.type !== 'TRANSFER_FAMILY_SFTP') {
    throw new TransferError('FLOW_MISMATCH', `endpoint ${endpoint.endpointId} is not an SFTP endpoint`);
  }
  return endpoint;
}

function pathOf(location: Location): string {
  if (!isSftpLocation(location)) throw new TransferError('FLOW_MISMATCH', 'expected an SFTP location');
  return location.path;
}

export interface SftpDataPlane extends DataPlaneDriver {
  /** What a file is now, over the sessions a batch's transfers opened. */
  inspectOver(endpoint: SftpEndpoint, location: Location, connections: Connections): Promise<DestinationState | undefined>;
}

export function sftpDataPlane(deps: SftpEndpointDeps): SftpDataPlane {
  /** One connector (one session at a time) per endpoint in a transfer's connections, whatever the number of files. */
  const connectorFor = (endpoint: Endpoint, connections: Connections, signal?: AbortSignal) =>
    connections.keep(`sftp:${endpoint.endpointId}`, () => new SftpConnector(deps, sftpEndpoint(endpoint), signal));

  return {
    durable: false,

    openSource(endpoint: Endpoint, location: Location, io: TransferIo): FileSource {
      return new SftpFileSource(connectorFor(endpoint, io.connections, io.signal), pathOf(location), io);
    },

    openTarget(endpoint: Endpoint, location: Location, io: TransferIo, options: TargetOptions): FileTarget {
      const path = pathOf(location);
      const connector = connectorFor(endpoint, io.connections, io.signal);
      const { capabilities } = sftpEndpoint(endpoint);
      return new SftpFileTarget(
        connector,
        path,
        temporaryPathFor(path, options.chainId),
        capabilities,
        io,
        options.createDirectories !== false,
        options.retried === true,
      );
    },

    async inspectOver(
      endpoint: SftpEndpoint,
      location: Location,
      connections: Connections,
    ): Promise<DestinationState | undefined> {
      const { channel } = await connectorFor(endpoint, connections).connect();
      const stats = await channel.statIfExists(pathOf(location));
      return stats ? { bytes: stats.size ?? 0 } : undefined;
    },
  };
}
