/** Endpoint configuration (spec 8.7): where files come from and go to. */
export const ENDPOINT_TYPES = ['S3', 'SFTP', 'TRANSFER_FAMILY_SFTP'] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

export const DIRECTIONS = ['INBOUND', 'OUTBOUND', 'BOTH'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** PENDING until validation passes; only ACTIVE endpoints take new jobs. */
export const ENDPOINT_STATUSES = ['PENDING', 'ACTIVE', 'VALIDATION_FAILED', 'DISABLED'] as const;
export type EndpointStatus = (typeof ENDPOINT_STATUSES)[number];

export interface S3Location {
  bucket: string;
  prefix: string;
  region: string;
  kmsKeyId?: string;
}

export interface SftpLocation {
  host: string;
  port: number;
  username: string;
  basePath: string;
  authType: 'PRIVATE_KEY' | 'PASSWORD';
  /** SHA256 fingerprint of the server's host key, as OpenSSH prints it ("SHA256:…"). */
  hostKeyFingerprint?: string;
}

/** What a partner's SFTP server was found to allow when the endpoint was validated. */
export interface SftpCapabilities {
  write: boolean;
  renameToNew: boolean;
  renameOverExisting: boolean;
  posixRename: boolean;
  checkFile: boolean;
}

export interface Endpoint {
  customerId: string;
  endpointId: string;
  name: string;
  type: EndpointType;
  direction: Direction;
  status: EndpointStatus;
  statusReason?: string;
  preferredRegion?: string;
  maxConcurrency: number;
  /** Secrets Manager ARN (or local secret id); never the secret itself. */
  secretRef?: string;
  s3?: S3Location;
  sftp?: SftpLocation;
  capabilities?: SftpCapabilities;
  createdAt: string;
  updatedAt: string;
  /** Optimistic concurrency: every write increments it and is conditional on it. */
  version: number;
}
