import { posix } from 'node:path';
import type { EndpointOf } from '../../domain/endpoint';
import type { Location } from '../../domain/location';

export type SftpEndpoint = EndpointOf<'SFTP' | 'TRANSFER_FAMILY_SFTP'>;

/** A file or folder on the partner's server, as an absolute path there. */
export interface SftpPathLocation extends Location {
  readonly kind: 'sftp';
  readonly path: string;
}

export function isSftpLocation(location: Location): location is SftpPathLocation {
  return location.kind === 'sftp';
}

/** Under the endpoint's base path. */
export function resolveSftpLocation(endpoint: SftpEndpoint, relativePath: string): SftpPathLocation {
  const { host, port, basePath } = endpoint.sftp;
  const path = posix.join(basePath, relativePath);
  return { kind: 'sftp', uri: `sftp://${host}:${port}${path}`, path };
}
