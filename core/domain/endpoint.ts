/** Endpoint configuration (spec 8.7): where files come from and go to. */

import type { SshSecurityPolicyName } from './ssh-security-policies';

/** The types the API accepts. A kind added for tests or later (see EndpointKinds) is not one until it is listed here. */
export const ENDPOINT_TYPES = ['S3', 'SFTP', 'TRANSFER_FAMILY_SFTP'] as const satisfies readonly EndpointType[];
/** Every type a driver may serve: those the API accepts and any added by declaration merging. */
export type EndpointType = keyof EndpointKinds;

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
  /**
   * The AWS account that owns the bucket, one of the customer's registered
   * accounts. Every S3 request for the endpoint sends it as ExpectedBucketOwner,
   * so S3 refuses the request if the bucket is anyone else's. Absent only on
   * endpoints registered before ownership was enforced: they take no jobs
   * until it is set (BucketOwnerUnknownError).
   */
  bucketOwner?: string;
}

export interface SftpLocation {
  host: string;
  port: number;
  username: string;
  basePath: string;
  authType: 'PRIVATE_KEY' | 'PASSWORD';
  /** SHA256 fingerprint of the server's host key, as OpenSSH prints it ("SHA256:…"). */
  hostKeyFingerprint?: string;
  /**
   * The SSH algorithms every connection to the partner may negotiate
   * (core/domain/ssh-security-policies.ts). Absent on endpoints stored before
   * the setting existed: read as DEFAULT_SSH_SECURITY_POLICY (securityPolicyOf).
   */
  securityPolicy?: SshSecurityPolicyName;
}

/** The SSH algorithms a connection negotiated (one direction's; eft and ssh2 agree the same both ways). */
export interface NegotiatedAlgorithms {
  kex: string;
  cipher: string;
  /** Empty for an AEAD cipher (AES-GCM, ChaCha20-Poly1305), which authenticates by itself. */
  mac: string;
  serverHostKey: string;
}

/** What a partner's SFTP server was found to allow when the endpoint was validated. */
export interface SftpCapabilities {
  write: boolean;
  renameToNew: boolean;
  renameOverExisting: boolean;
  posixRename: boolean;
  checkFile: boolean;
  /**
   * Two handles open on one file write it at their offsets and both writes
   * count (probed). Only then may a large file's WRITEs take turns on two SFTP
   * channels: a server on object storage may keep only one handle's bytes.
   * Absent on endpoints validated before it was probed: treated as false.
   */
  multiHandleWrite?: boolean;
  /** What the validating connection negotiated under the endpoint's security policy. Absent on endpoints validated before it was recorded. */
  negotiated?: NegotiatedAlgorithms;
}

export const VALIDATION_REASONS = [
  'DNS_FAILURE',
  'CONNECTION_REFUSED',
  'TIMEOUT',
  'AUTH_FAILED',
  'HOST_KEY_MISMATCH',
  'HOST_KEY_UNCONFIRMED',
  'HOST_NOT_ALLOWED',
  'NO_COMMON_ALGORITHM',
  'PATH_MISSING',
  'PERMISSION_DENIED',
  'BUCKET_MISSING',
  'BUCKET_NOT_OWNED',
  'BUCKET_OWNER_UNKNOWN',
  'ACCESS_DENIED',
  'UNKNOWN',
] as const;
export type ValidationReason = (typeof VALIDATION_REASONS)[number];

/** What a connectivity check found (spec FR-5). */
export type ProbeOutcome =
  /** `warnings`: what a person should see although validation passed (a probe file left behind); not recorded. */
  | { ok: true; capabilities?: SftpCapabilities; warnings?: string[] }
  | { ok: false; reason: ValidationReason; message: string; offeredHostKeyFingerprint?: string };

/** The last validation, bound to the connection settings it checked. */
export interface ValidationRecord {
  ok: boolean;
  at: string;
  reason?: ValidationReason;
  message?: string;
  offeredHostKeyFingerprint?: string;
  /** Hash of the connection settings validated; activation needs it to match the current ones. */
  settingsHash: string;
}

/** What every endpoint has, whatever its kind. */
export interface EndpointBase {
  customerId: string;
  endpointId: string;
  name: string;
  direction: Direction;
  status: EndpointStatus;
  statusReason?: string;
  preferredRegion?: string;
  maxConcurrency: number;
  /** Secrets Manager ARN (or local secret id); never the secret itself. */
  secretRef?: string;
  validation?: ValidationRecord;
  /** When the credentials were last set or rotated (the secret itself is elsewhere). */
  credentialsUpdatedAt?: string;
  createdAt: string;
  updatedAt: string;
  /** Optimistic concurrency: every write increments it and is conditional on it. */
  version: number;
}

/**
 * Each endpoint type and the settings only it has. Open: a kind added later
 * (a test-only LOCAL_FS driver, say) adds its entry from its own adapter folder
 * by declaration merging, without touching the domain:
 *
 *     declare module '../../domain/endpoint' {
 *       interface EndpointKinds { LOCAL_FS: { localFs: { root: string } } }
 *     }
 */
export interface EndpointKinds {
  S3: { s3: S3Location };
  SFTP: { sftp: SftpLocation; capabilities?: SftpCapabilities };
  TRANSFER_FAMILY_SFTP: { sftp: SftpLocation; capabilities?: SftpCapabilities };
}

/** An endpoint of one of the kinds: its type tells which settings it has. */
export type Endpoint = { [T in EndpointType]: EndpointBase & { type: T } & EndpointKinds[T] }[EndpointType];

/** The endpoints of one type, e.g. EndpointOf<'S3'>. */
export type EndpointOf<T extends EndpointType> = Extract<Endpoint, { type: T }>;
