/**
 * Where a transfer path lands on an endpoint, as its driver resolved it
 * (core/domain/locations.ts). Opaque outside the driver that
 * made it: each driver extends it with what it needs (a bucket and key, a path).
 */
export interface Location {
  /** The driver's kind of location, e.g. "s3" or "sftp". */
  readonly kind: string;
  /** e.g. s3://bucket/key, sftp://host:port/path: for messages and results */
  readonly uri: string;
}
