/**
 * The container overrides the state machine gives each worker task: EFT_JOB
 * (which job) or EFT_BATCH_EXECUTION (the batch execution, whose input lists
 * the jobs), and EFT_LEASE (the lease token it runs under); JSON in a
 * variable, checked by the schemas here as part of the worker's settings
 * (settings.ts). Refused loudly when malformed: the task cannot even record why it failed.
 */
import { z } from 'zod';
import { configurationError } from '../core/data-plane/config';

const text = z.string('must be a non-empty string').min(1, 'must be a non-empty string');

export const JobOverrideSchema = z.object({ customerId: text, jobId: text }, 'is not a JSON object');

export const LeaseOverrideSchema = z.object(
  {
    partitionId: text,
    executionId: text,
    region: text,
    epoch: z.number('must be an integer').int('must be an integer').min(0, 'must be an integer'),
  },
  'is not a JSON object',
);

/** A batch execution's input: { customerId, batchId, jobIds: [...] }. */
export const BatchExecutionInputSchema = z.object(
  { customerId: text, batchId: text, jobIds: z.array(text, 'is not a list of job ids') },
  'is not a JSON object',
);

/** A variable (or execution input) holding JSON that `schema` checks. */
export function jsonText<S extends z.ZodType>(schema: S) {
  return z
    .string('is not set')
    .min(1, 'is not set')
    .transform((raw, ctx) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

/** The batch's execution input, as DescribeExecution returns it (read once the settings name the execution). */
export function parseBatch(raw: string): z.output<typeof BatchExecutionInputSchema> {
  const result = jsonText(BatchExecutionInputSchema).safeParse(raw);
  if (!result.success) throw configurationError(result.error, 'the batch execution input');
  return result.data;
}
