/**
 * The inputs the transfer state machine (statemachines/transfer.yml) hands its
 * Lambda tasks. Objects are not strict: FailTransfer and FailBatch get the
 * whole state (the start task's output, `job`, `flowType`, …), of which they
 * use only what is named here; the rest is dropped.
 */
import { z } from 'zod';
import type { Endpoint } from '../../domain/endpoint';
import type { TransferJob } from '../../domain/job';

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
 * Records the engine wrote into the execution (StartExecution's input, StartTransfer's output), which no
 * customer can: checked for what says whose they are; the domain matches them to the job before use.
 */
const EndpointRecordSchema = z
  .looseObject({ customerId: id, endpointId: id, type: id })
  .transform((endpoint) => endpoint as unknown as Endpoint);
const EndpointPairSchema = z.object({ source: EndpointRecordSchema, target: EndpointRecordSchema });
const ClaimedJobSchema = z
  .looseObject({ customerId: id, jobId: id, sourceEndpointId: id, targetEndpointId: id, status: z.literal('RUNNING') })
  .transform((job) => job as unknown as TransferJob);

/**
 * StartTransfer: `executionId` is $$.Execution.Id, the lease's owner; `input` the execution's input,
 * whose partitionId and flowType (given by the engine's starter since issue 18) spare reading the job first,
 * and whose endpoints (a server-side copy's) StartTransfer hands on to the copy.
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
      endpoints: EndpointPairSchema.optional(),
    })
    .optional(),
});

/** CopyS3Object and VerifyTransfer: the job and the lease it runs under. */
export const LeasedJobInputSchema = JobKeySchema.extend({ lease: LeaseTokenSchema });

/**
 * CopyS3Object gets StartTransfer's whole output: besides the job and its lease, the job as the claim
 * wrote it and its endpoints as the request checked them, when StartTransfer handed them on.
 */
export const CopyInputSchema = LeasedJobInputSchema.extend({
  claimed: ClaimedJobSchema.optional(),
  endpoints: EndpointPairSchema.optional(),
});

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
