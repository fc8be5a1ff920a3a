/**
 * Whether an S3 object belongs to a route: checked against the route's source
 * endpoint as it is now, not against what the route remembered
 * (Route.sourceBucket only finds the candidates).
 */
import type { Endpoint } from '../../domain/endpoint';
import { compileGlob } from '../../domain/glob';
import type { Route } from '../../domain/triggers';
import type { ObjectCreated } from './ingest-event';

/** Why an object is not a route's (logged; none of these is an error). */
export type NoMatchReason =
  /** The route's source endpoint was deleted. */
  | 'SOURCE_ENDPOINT_MISSING'
  /** The source endpoint is no longer an S3 endpoint on this bucket (it was changed after the route was written). */
  | 'OTHER_BUCKET'
  /**
   * The event's account is not the endpoint's s3.bucketOwner: an event forged
   * by another account (anyone whose account the bus policy admits can put one
   * naming any bucket), or a bucket that changed hands. Nothing is created.
   */
  | 'OWNER_MISMATCH'
  /** The key is not under the endpoint's prefix and the route's folder. */
  | 'OUTSIDE_FOLDER'
  /** The key is in a sub-folder of the route's folder, and the route does not include sub-folders. */
  | 'IN_SUBFOLDER'
  /** A "folder" object (a key ending in "/"), which holds no file. */
  | 'FOLDER_MARKER'
  /** The file name does not match the route's pattern. */
  | 'PATTERN_MISMATCH';

export type RouteMatch =
  | {
      matched: true;
      /** The object's path relative to the endpoint's prefix: the job's sourcePath. */
      sourcePath: string;
      /** The object's path relative to the route's folder: the file name, or with includeSubfolders its sub-path. */
      relativePath: string;
      /** The file name (the last segment). */
      name: string;
    }
  | { matched: false; reason: NoMatchReason };

/** "a/b/" and "/a/b" and "a/b" are the folder "a/b"; "" and "/" the endpoint's prefix itself. */
export function folderPath(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

/** An S3 prefix read as a folder, as the S3 driver reads it: "in" and "in/" both mean the folder in/. */
function prefixFolder(prefix: string): string {
  return prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix;
}

/** `folder/name`, or `name` when the folder is the root. */
export function joinFolder(folder: string, name: string): string {
  const base = folderPath(folder);
  return base ? `${base}/${name}` : name;
}

const matchers = new Map<string, (name: string) => boolean>();

/** Compiled once per pattern per container (a few routes' patterns, matched on every event). */
function matcherOf(pattern: string): (name: string) => boolean {
  let matcher = matchers.get(pattern);
  if (!matcher) {
    matcher = compileGlob(pattern);
    if (matchers.size > 1000) matchers.clear();
    matchers.set(pattern, matcher);
  }
  return matcher;
}

/**
 * The object `bucket`/`key` of an event from `account` against a route whose
 * source endpoint is `endpoint`: it must be the customer's S3 endpoint on this
 * bucket, owned by the account that sent the event, the key under the
 * endpoint's prefix and the route's folder (directly, or in a sub-folder with
 * includeSubfolders), and its name must match the route's pattern.
 */
export function matchRoute(
  route: Route,
  endpoint: Endpoint | undefined,
  object: Pick<ObjectCreated, 'account' | 'bucket' | 'key'>,
): RouteMatch {
  if (!endpoint) return { matched: false, reason: 'SOURCE_ENDPOINT_MISSING' };
  if (endpoint.type !== 'S3' || endpoint.s3.bucket !== object.bucket) return { matched: false, reason: 'OTHER_BUCKET' };
  if (!endpoint.s3.bucketOwner || endpoint.s3.bucketOwner !== object.account) return { matched: false, reason: 'OWNER_MISMATCH' };

  const routeFolder = folderPath(route.source.path);
  const watched = `${prefixFolder(endpoint.s3.prefix)}${routeFolder ? `${routeFolder}/` : ''}`;
  if (!object.key.startsWith(watched)) return { matched: false, reason: 'OUTSIDE_FOLDER' };
  const relativePath = object.key.slice(watched.length);
  if (relativePath === '' || relativePath.endsWith('/')) return { matched: false, reason: 'FOLDER_MARKER' };
  const slash = relativePath.lastIndexOf('/');
  if (slash >= 0 && !route.source.includeSubfolders) return { matched: false, reason: 'IN_SUBFOLDER' };
  const name = relativePath.slice(slash + 1);
  if (route.source.pattern !== undefined && !matcherOf(route.source.pattern)(name)) {
    return { matched: false, reason: 'PATTERN_MISMATCH' };
  }
  return { matched: true, sourcePath: joinFolder(routeFolder, relativePath), relativePath, name };
}

/**
 * The S3 key a path of an S3 endpoint lands on (as the S3 driver resolves it):
 * how ingestion sees that a route's delivery would land where the route itself
 * watches, which would start a job for every job it completes.
 */
export function keyOf(endpoint: Endpoint, path: string): { bucket: string; key: string } | undefined {
  if (endpoint.type !== 'S3') return undefined;
  return { bucket: endpoint.s3.bucket, key: `${prefixFolder(endpoint.s3.prefix)}${path}` };
}
