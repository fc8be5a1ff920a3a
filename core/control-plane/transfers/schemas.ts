import { z } from 'zod';
import { FLOW_TYPES, JOB_STATUSES } from '../../domain/job';
import { DOT_SEGMENT_MESSAGE, hasDotSegment } from '../../domain/path-segments';

const endpointId = z.string().regex(/^ep_[0-9a-z]{26}$/, 'is not an endpoint id');

/**
 * A path relative to the endpoint's base path or prefix. Traversal is refused
 * here, whichever separator it uses, so the 400 names the field and nothing of
 * it reaches a server.
 */
const relativePath = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(1024, 'must be at most 1024 characters')
  .refine((v) => !hasDotSegment(v), DOT_SEGMENT_MESSAGE);

/** Shell-style glob for one directory level: * and ? only (core/domain/glob.ts); no separators, so no traversal. */
const pattern = z
  .string()
  .max(256)
  .regex(/^[\w.*?\-+@= ]+$/, 'may contain letters, digits, . _ - + @ = space and the wildcards * ?')
  .refine((v) => !hasDotSegment(v), 'must not be . or .. (it names files, not folders)');

/** Shared with routes and schedules (core/control-plane/triggers). */
export { endpointId as EndpointIdSchema, pattern as PatternSchema, relativePath as RelativePathSchema };

export const CreateTransferSchema = z.strictObject({
  source: z.strictObject({
    endpointId,
    /** A file, or a folder when it ends with "/" or a pattern is given. */
    path: relativePath,
    pattern: pattern.optional(),
  }),
  target: z.strictObject({
    endpointId,
    /** The target file for a single file; the target folder for a folder. */
    path: relativePath,
    /** An SFTP target folder that does not exist is created (default); false fails the job instead. */
    createDirectories: z.boolean().default(true),
  }),
});
export type CreateTransferRequest = z.output<typeof CreateTransferSchema>;

export const IdempotencyKeyHeader = z
  .string()
  .regex(/^[\w.:-]{8,128}$/, 'must be 8-128 letters, digits or . _ : -')
  .optional();

export const JobPathSchema = z.strictObject({ jobId: z.string().regex(/^job_[0-9a-z]{26}$/, 'is not a job id') });

export const ListJobsQuerySchema = z.strictObject({
  status: z.enum(JOB_STATUSES).optional(),
  requestId: z
    .string()
    .regex(/^req_[0-9a-z]{26}$/, 'is not a request id')
    .optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(2048).optional(),
});

export { FLOW_TYPES };
