import { z } from 'zod';
import { FLOW_TYPES, JOB_STATUSES } from '../domain/job';

const endpointId = z.string().regex(/^ep_[0-9a-z]{26}$/, 'is not an endpoint id');

/** A path relative to the endpoint's base path or prefix; resolveLocation refuses traversal. */
const relativePath = z.string().trim().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters');

/** Shell-style glob for one directory level: * and ? only. */
const pattern = z
  .string()
  .max(256)
  .regex(/^[\w.*?\-+@= ]+$/, 'may contain letters, digits, . _ - + @ = space and the wildcards * ?');

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
