import { z } from 'zod';
import type { AuditRecord } from '../../domain/audit';
import {
  DIRECTIONS,
  ENDPOINT_STATUSES,
  type Endpoint,
  type ProbeOutcome,
  VALIDATION_REASONS,
  type ValidationRecord,
} from '../../domain/endpoint';
import { SSH_SECURITY_POLICY_NAMES, securityPolicyOf } from '../../domain/ssh-security-policies';

/**
 * The response schemas of the endpoint API. Each view function's return type is
 * its schema's type, so the compiler refuses a view that drifts from what the
 * OpenAPI document (core/api/openapi.ts) says the API answers.
 */

const timestamp = z.iso.datetime().describe('ISO 8601, UTC');

const S3SettingsViewSchema = z.strictObject({
  bucket: z.string(),
  prefix: z.string(),
  region: z.string(),
  kmsKeyId: z.string().optional(),
  bucketOwner: z.string().optional().describe('The AWS account that owns the bucket; absent: the endpoint takes no jobs'),
});

const SftpSettingsViewSchema = z.strictObject({
  host: z.string(),
  port: z.number().int(),
  username: z.string(),
  basePath: z.string(),
  authType: z.enum(['PRIVATE_KEY', 'PASSWORD']),
  hostKeyFingerprint: z.string().optional().describe('The confirmed host key (OpenSSH SHA256 form)'),
  securityPolicy: z.enum(SSH_SECURITY_POLICY_NAMES),
});

const NegotiatedAlgorithmsSchema = z.strictObject({
  kex: z.string(),
  cipher: z.string(),
  mac: z.string().describe('Empty with an AEAD cipher'),
  serverHostKey: z.string(),
});

const SftpCapabilitiesSchema = z
  .strictObject({
    write: z.boolean(),
    renameToNew: z.boolean(),
    renameOverExisting: z.boolean(),
    posixRename: z.boolean(),
    checkFile: z.boolean(),
    multiHandleWrite: z.boolean().optional(),
    negotiated: NegotiatedAlgorithmsSchema.optional(),
  })
  .meta({ id: 'SftpCapabilities', description: 'What the partner’s SFTP server allowed when last validated' });

const ValidationRecordViewSchema = z.strictObject({
  ok: z.boolean(),
  at: timestamp,
  reason: z.enum(VALIDATION_REASONS).optional(),
  message: z.string().optional(),
  offeredHostKeyFingerprint: z.string().optional(),
});

const endpointBase = {
  id: z.string().describe('ep_…'),
  name: z.string(),
  direction: z.enum(DIRECTIONS),
  status: z.enum(ENDPOINT_STATUSES),
  statusReason: z.string().optional(),
  preferredRegion: z.string().optional(),
  maxConcurrency: z.number().int(),
  validation: ValidationRecordViewSchema.optional().describe('The last validation'),
  credentialsUpdatedAt: timestamp.optional(),
  createdAt: timestamp,
  updatedAt: timestamp,
  version: z.number().int().describe('Incremented by every change'),
};

export const EndpointViewSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('S3'), ...endpointBase, s3: S3SettingsViewSchema }),
    z.strictObject({
      type: z.enum(['SFTP', 'TRANSFER_FAMILY_SFTP']),
      ...endpointBase,
      sftp: SftpSettingsViewSchema,
      capabilities: SftpCapabilitiesSchema.optional(),
    }),
  ])
  .meta({ id: 'EndpointView', description: 'An endpoint as the API shows it (never its credentials)' });

export type EndpointView = z.output<typeof EndpointViewSchema>;

/** The API's endpoints: the kinds it accepts (a kind added by a test's driver is never shown by the API). */
type ApiEndpoint = Extract<Endpoint, { type: EndpointView['type'] }>;

function withoutHash({ settingsHash: _hash, ...validation }: ValidationRecord) {
  return validation;
}

/**
 * What the API shows of an endpoint: everything but internal references (the
 * secret's ARN); an SFTP endpoint stored without a security policy shows the
 * one its connections use.
 */
export function toView(endpoint: Endpoint): EndpointView {
  const { secretRef: _secretRef, customerId: _customerId, endpointId, validation, ...rest } = endpoint as ApiEndpoint;
  const last = validation ? { validation: withoutHash(validation) } : {};
  if (rest.type === 'S3') return { id: endpointId, ...rest, ...last };
  return { id: endpointId, ...rest, sftp: { ...rest.sftp, securityPolicy: securityPolicyOf(rest.sftp) }, ...last };
}

const ProbeOutcomeSchema = z.discriminatedUnion('ok', [
  z.strictObject({
    ok: z.literal(true),
    capabilities: SftpCapabilitiesSchema.optional(),
    warnings: z.array(z.string()).optional().describe('What a person should see although validation passed'),
  }),
  z.strictObject({
    ok: z.literal(false),
    reason: z.enum(VALIDATION_REASONS),
    message: z.string(),
    offeredHostKeyFingerprint: z
      .string()
      .optional()
      .describe('HOST_KEY_UNCONFIRMED / HOST_KEY_MISMATCH: the key the server offered; confirm it with PATCH'),
  }),
]);

/** POST /endpoints/{id}/validate: the endpoint after validation, and what validation found. */
export const ValidationViewSchema = z
  .strictObject({ endpoint: EndpointViewSchema, validation: ProbeOutcomeSchema })
  .meta({ id: 'ValidationView' });

export type ValidationView = z.output<typeof ValidationViewSchema>;

export function toValidationView(endpoint: Endpoint, validation: ProbeOutcome): ValidationView {
  return { endpoint: toView(endpoint), validation };
}

/** One entry of an endpoint's audit trail. */
export const AuditEventViewSchema = z
  .strictObject({
    eventId: z.string(),
    actor: z.string().describe('The principal (ARN) that made the change'),
    action: z.string().describe('e.g. endpoint.created, endpoint.validated'),
    at: timestamp,
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'AuditEventView' });

export type AuditEventView = z.output<typeof AuditEventViewSchema>;

export function toAuditEventView(record: AuditRecord): AuditEventView {
  const { subject: _subject, customerId: _customerId, ...event } = record;
  return event;
}
