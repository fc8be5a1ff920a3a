/**
 * The inputs the transfer state machine (statemachines/transfer.yml) hands its
 * Lambda tasks. Objects are not strict: FailTransfer and FailBatch get the
 * whole state (the start task's output, `job`, `flowType`, …), of which they
 * use only what is named here; the rest is dropped.
 */
import { z } from 'zod';

const id = z.string().min(1, 'must be a non-empty string');

/** The lease token StartTransfer/StartBatch return (core/domain/lease.ts). */
export const LeaseTokenSchema = z.object({
  partitionId: id,
  executionId: id,
  region: id,
  epoch: z.number().int().min(0),
  renewedAt: z.number().int().min(0).optional(),
});

/** What a `Catch` with ResultPath $.error adds: the failed state's error name and cause. */
const StateErrorSchema = z.object({ Error: z.string(), Cause: z.string().optional() });

const JobKeySchema = z.object({ customerId: id, jobId: id });
const BatchSchema = z.object({ customerId: id, batchId: id, jobIds: z.array(id) });

/**
 * StartTransfer: `executionId` is $$.Execution.Id, the lease's owner; `input` the execution's input,
 * whose partitionId and flowType (given by the engine's starter since issue 18) spare reading the job first.
 */
export const StartTransferInputSchema = JobKeySchema.extend({
  executionId: id,
  input: z
    .object({
      partitionId: id.optional(),
      flowType: z
        .string()
        .regex(/^[A-Z0-9]+_TO_[A-Z0-9]+$/, 'must be a flow type such as S3_TO_S3')
        .optional(),
    })
    .optional(),
});

/** CopyS3Object and VerifyTransfer: the job and the lease it runs under. */
export const LeasedJobInputSchema = JobKeySchema.extend({ lease: LeaseTokenSchema });

/** FailTransfer: no lease when StartTransfer itself failed; the error of the state that failed. */
export const FailTransferInputSchema = JobKeySchema.extend({
  lease: LeaseTokenSchema.optional(),
  error: StateErrorSchema.optional(),
});

export const StartBatchInputSchema = BatchSchema.extend({ executionId: id });

/** FailBatch: no `lease` when StartBatch failed (null if it found nothing to run). */
export const FailBatchInputSchema = BatchSchema.extend({
  lease: LeaseTokenSchema.nullish(),
  error: StateErrorSchema.optional(),
});
