import { z } from 'zod';
import { DIRECTIONS } from '../../domain/endpoint';
import { DEFAULT_SSH_SECURITY_POLICY, SSH_SECURITY_POLICY_NAMES } from '../../domain/ssh-security-policies';

/**
 * Request schemas of the endpoint API. They validate requests, give the
 * TypeScript types, and generate the API contract (docs/openapi.json, via
 * core/api and zod-openapi), so the three cannot drift apart. Objects are strict:
 * unknown fields are refused, not ignored.
 */

/** C0/C1 control characters and Unicode line separators: never legitimate in names or paths. */
function hasControlCharacters(value: string): boolean {
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029) return true;
  }
  return false;
}

const name = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .refine((v) => !hasControlCharacters(v), 'must not contain control characters')
  .refine((v) => !/[<>`$\\{}]/.test(v), 'must not contain any of < > ` $ \\ { }');

/**
 * An absolute POSIX path with no `..` or `.` segments, no control characters.
 * Segments split at `\` too: Windows SFTP servers take it as a separator, so
 * `/outbound\..\..\etc` climbs out there (the rule of core/domain/path-segments.ts).
 */
const absolutePath = z
  .string()
  .max(1024, 'must be at most 1024 characters')
  .regex(/^\//, 'must be an absolute path starting with /')
  .refine((v) => !hasControlCharacters(v), 'must not contain control characters')
  .refine(
    (v) => !v.split(/[/\\]/).some((s) => /^[. ]*\.[. ]*$/.test(s)),
    'must not contain . or .. segments (with / or \\ as the separator)',
  )
  .refine((v) => !v.includes('//'), 'must not contain empty segments');

/**
 * An S3 key prefix: relative, no `..` segments, no control characters. `\`
 * separates segments here as in every path field: whatever copies these keys
 * to a Windows file system reads it as one (the rule of core/domain/path-segments.ts).
 */
const keyPrefix = z
  .string()
  .max(512, 'must be at most 512 characters')
  .refine((v) => !v.startsWith('/'), 'must not start with /')
  .refine((v) => !hasControlCharacters(v), 'must not contain control characters')
  .refine(
    (v) => !v.split(/[/\\]/).some((s) => /^[. ]*\.[. ]*$/.test(s)),
    'must not contain . or .. segments (with / or \\ as the separator)',
  );

/** RFC 1123 host name or IPv4/IPv6 literal (the SSRF guard vets what it resolves to). */
const host = z
  .string()
  .min(1, 'must not be empty')
  .max(253, 'must be at most 253 characters')
  .refine(
    (v) =>
      /^(?=.{1,253}$)([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/.test(
        v,
      ) ||
      z.ipv4().safeParse(v).success ||
      z.ipv6().safeParse(v).success,
    'must be a host name or IP address',
  );

const govRegion = z.enum(['us-gov-west-1', 'us-gov-east-1'], 'must be us-gov-west-1 or us-gov-east-1');

const fingerprint = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must be an OpenSSH SHA256 fingerprint (SHA256: and 43 base64 characters)');

/** The SSH algorithms every connection to the partner may negotiate (README "SSH security policies"). */
const securityPolicy = z.enum(SSH_SECURITY_POLICY_NAMES, `must be one of ${SSH_SECURITY_POLICY_NAMES.join(', ')}`);

const bucket = z
  .string()
  .regex(/^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name')
  .refine((v) => !z.ipv4().safeParse(v).success, 'must not be formatted as an IP address');

const kmsKeyId = z
  .string()
  .max(2048)
  .regex(
    /^(arn:aws-us-gov:kms:us-gov-(west|east)-1:\d{12}:(key\/[0-9a-f-]{36}|alias\/[\w/-]+)|[0-9a-f-]{36}|alias\/[\w/-]+)$/,
    'must be a KMS key id, alias, or GovCloud key/alias ARN',
  );

const privateKey = z
  .string()
  .max(8192, 'must be at most 8192 characters')
  .regex(
    /^-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+-----END [A-Z ]*PRIVATE KEY-----\s*$/,
    'must be a PEM or OpenSSH private key',
  );

export const SftpCredentialsSchema = z
  .strictObject({
    password: z.string().min(1).max(1024).optional(),
    privateKey: privateKey.optional(),
    passphrase: z.string().max(1024).optional(),
  })
  .refine((c) => Boolean(c.password) !== Boolean(c.privateKey), 'must contain exactly one of password or privateKey');

const common = {
  name,
  direction: z.enum(DIRECTIONS),
  maxConcurrency: z.number().int().min(1).max(64).default(4),
  preferredRegion: govRegion.optional(),
};

/** The AWS account that owns the bucket; by default the account of the principal that registers the endpoint. */
const bucketOwner = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id');

const s3Fields = {
  bucket,
  prefix: keyPrefix,
  region: govRegion,
  kmsKeyId: kmsKeyId.optional(),
  bucketOwner: bucketOwner.optional(),
};
const sftpFields = {
  host,
  port: z.number().int().min(1).max(65535),
  username: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'must be 1-64 letters, digits or . _ @ -'),
  basePath: absolutePath,
  hostKeyFingerprint: fingerprint.optional(),
  securityPolicy: securityPolicy.optional(),
};
/** On creation, defaults fill what is left out; a PATCH changes only what it names. */
const S3LocationSchema = z.strictObject({ ...s3Fields, prefix: keyPrefix.default('') });
const SftpLocationSchema = z.strictObject({
  ...sftpFields,
  port: sftpFields.port.default(22),
  basePath: absolutePath.default('/'),
  securityPolicy: securityPolicy.default(DEFAULT_SSH_SECURITY_POLICY),
});

export const CreateEndpointSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('S3'), ...common, s3: S3LocationSchema }),
    z.strictObject({
      type: z.enum(['SFTP', 'TRANSFER_FAMILY_SFTP']),
      ...common,
      sftp: SftpLocationSchema,
      credentials: SftpCredentialsSchema,
    }),
  ],
  { error: 'type must be one of S3, SFTP, TRANSFER_FAMILY_SFTP' },
);
export type CreateEndpointRequest = z.output<typeof CreateEndpointSchema>;

/** PATCH: every field optional; `status` activates or deactivates; `credentials` rotates the secret. */
export const UpdateEndpointSchema = z
  .strictObject({
    name: name.optional(),
    direction: z.enum(DIRECTIONS).optional(),
    maxConcurrency: z.number().int().min(1).max(64).optional(),
    preferredRegion: govRegion.optional(),
    status: z.enum(['ACTIVE', 'DISABLED']).optional(),
    s3: z.strictObject(s3Fields).partial().optional(),
    sftp: z.strictObject(sftpFields).partial().optional(),
    credentials: SftpCredentialsSchema.optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, 'must change at least one field');
export type UpdateEndpointRequest = z.output<typeof UpdateEndpointSchema>;

export const EndpointPathSchema = z.strictObject({
  id: z.string().regex(/^ep_[0-9a-z]{26}$/, 'is not an endpoint id'),
});

export const PageQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(2048).optional(),
});
