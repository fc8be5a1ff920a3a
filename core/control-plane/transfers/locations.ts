import { posix } from 'node:path';
import type { Endpoint } from '../../domain/endpoint';
import { BucketOwnerUnknownError, ValidationError } from '../../domain/errors';
import type { Location } from '../../domain/location';
import { hasDotSegment } from '../../domain/path-segments';

/**
 * Where a transfer path lands on an endpoint: under the S3 prefix or the SFTP
 * base path, never outside it. Paths are relative to the endpoint; `..`, `.`
 * (with `/` or `\` as the separator), empty segments and control characters
 * are refused (FIELD names the request field), also for paths stored before
 * the API refused them (a re-drive, a queued job).
 */
export function resolveLocation(endpoint: Endpoint, path: string, field = 'path'): Location {
  const segments = path.replace(/^\/+/, '').split('/');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (!path || segments.some((s) => s === '') || hasDotSegment(path) || /[\u0000-\u001f\u007f]/.test(path)) {
    throw new ValidationError([{ field, message: 'must be a relative path without empty, . or .. segments' }]);
  }
  const relative = segments.join('/');
  if (endpoint.s3) {
    if (!endpoint.s3.bucketOwner) throw new BucketOwnerUnknownError(endpoint.endpointId);
    return {
      kind: 's3',
      bucket: endpoint.s3.bucket,
      owner: endpoint.s3.bucketOwner,
      key: `${folder(endpoint.s3.prefix)}${relative}`,
      region: endpoint.s3.region,
      ...(endpoint.s3.kmsKeyId ? { kmsKeyId: endpoint.s3.kmsKeyId } : {}),
    };
  }
  if (endpoint.sftp) return { kind: 'sftp', path: posix.join(endpoint.sftp.basePath, relative) };
  throw new Error(`endpoint ${endpoint.endpointId} has no location settings`);
}

export function describeLocation(location: Location, endpoint: Endpoint): string {
  return location.kind === 's3'
    ? `s3://${location.bucket}/${location.key}`
    : `sftp://${endpoint.sftp?.host}:${endpoint.sftp?.port}${location.path}`;
}

/** An S3 prefix read as a folder: "in" and "in/" both mean the folder in/. */
function folder(prefix: string): string {
  return prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix;
}
