import type { Drivers } from './drivers';
import type { Endpoint } from './endpoint';
import { ValidationError } from './errors';
import type { Location } from './location';
import { hasDotSegment } from './path-segments';

/**
 * Where a transfer path lands on an endpoint: its driver puts it under the
 * endpoint's prefix or base path, never outside it. Paths are relative to the
 * endpoint; `..`, `.` (with `/` or `\` as the separator), empty segments and
 * control characters are refused here, for every kind (FIELD names the
 * request field), also for paths stored before the API refused them (a
 * re-drive, a queued job).
 */
export function resolveLocation(drivers: Drivers, endpoint: Endpoint, path: string, field = 'path'): Location {
  const segments = path.replace(/^\/+/, '').split('/');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (!path || segments.some((s) => s === '') || hasDotSegment(path) || /[\u0000-\u001f\u007f]/.test(path)) {
    throw new ValidationError([{ field, message: 'must be a relative path without empty, . or .. segments' }]);
  }
  return drivers.driverFor(endpoint).resolve(endpoint, segments.join('/'));
}

/**
 * Where a folder of a request lands: like resolveLocation, but "/" (a path of slashes only) names the
 * endpoint's base folder (its base path or prefix) itself, and a trailing "/" is allowed.
 */
export function resolveFolderLocation(drivers: Drivers, endpoint: Endpoint, path: string, field = 'path'): Location {
  const folder = path.replace(/\/+$/, '');
  if (folder === '' && path !== '') return drivers.driverFor(endpoint).resolve(endpoint, '');
  return resolveLocation(drivers, endpoint, folder, field);
}
