import { posix } from 'node:path';
import { z } from 'zod';
import { JOB_STATUSES, type TransferJob } from '../../domain/job';
import { temporaryPathFor } from '../../domain/transfer/temporary-name';

/**
 * The response schemas of the job API. The view functions' return types are
 * the schemas' types, so the compiler refuses a view that drifts from what the
 * OpenAPI document (core/api/openapi.ts) says the API answers.
 */

const timestamp = z.iso.datetime().describe('ISO 8601, UTC');
const place = z.strictObject({ endpointId: z.string(), path: z.string() });

const JobTriggerSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('API') }),
    z.strictObject({ kind: z.literal('ROUTE'), routeId: z.string(), eventId: z.string() }),
    z.strictObject({ kind: z.literal('SCHEDULE'), scheduleId: z.string(), pollId: z.string() }),
  ])
  .describe('What started the job');

const failure = z.strictObject({ code: z.string(), message: z.string() });

const TransferResultSchema = z
  .strictObject({
    bytes: z.number().int(),
    sha256: z.string().optional().describe('SHA-256 of the content (hex), where the flow knows it'),
    checksum: z
      .strictObject({
        algorithm: z.literal('SHA256'),
        type: z.enum(['FULL_OBJECT', 'COMPOSITE']),
        value: z.string().describe('Base64, as S3 sends it'),
        partSize: z.number().int().optional(),
      })
      .optional(),
    etag: z.string().optional(),
    versionId: z.string().optional(),
    location: z.string().describe('Where it was delivered, e.g. s3://bucket/key or sftp://host/path'),
    alreadyPresent: z.boolean().describe('The destination already held the same content; nothing was written'),
  })
  .describe('What arrived at the destination');

const DELIVERIES = ['rename', 'direct-write'] as const;

export const JobViewSchema = z
  .strictObject({
    jobId: z.string().describe('job_…'),
    requestId: z.string().optional().describe('req_…: the POST /transfers request that created the job'),
    status: z.enum(JOB_STATUSES),
    flowType: z.string().describe('<source kind>_TO_<target kind>: SFTP_TO_SFTP, SFTP_TO_S3, S3_TO_S3, S3_TO_SFTP'),
    source: place,
    target: place,
    transitions: z.array(z.strictObject({ status: z.enum(JOB_STATUSES), at: timestamp, region: z.string(), actor: z.string() })),
    createdAt: timestamp,
    startedAt: timestamp.optional(),
    completedAt: timestamp.optional(),
    attempts: z.number().int(),
    executionRegion: z.string().optional(),
    bytesTransferred: z.number().int(),
    bytesTotal: z.number().int().optional(),
    error: z
      .strictObject({ code: z.string().describe('An error code (see the error codes)'), message: z.string().optional() })
      .optional()
      .describe('Why a FAILED job failed'),
    result: TransferResultSchema.optional(),
    redriveOf: z.string().optional().describe('The job this one re-drives'),
    trigger: JobTriggerSchema,
    afterTransfer: z
      .strictObject({
        action: z.enum(['DELETE', 'MOVE']),
        archivePath: z.string().optional(),
        status: z.enum(['PENDING', 'DONE', 'FAILED']),
        attempts: z.number().int(),
        lastError: failure.optional(),
        at: timestamp.optional(),
      })
      .optional()
      .describe('A scheduled pull’s action on the source file, run once the job SUCCEEDED'),
    delivery: z
      .enum(DELIVERIES)
      .optional()
      .describe('direct-write: the partner forbids renames, so the file was written under its final name'),
    temporaryFile: z
      .string()
      .optional()
      .describe('The temporary file an undelivered attempt may have left next to the SFTP target'),
  })
  .meta({ id: 'JobView', description: 'A job: one file’s transfer, its state and history' });

export type JobView = z.output<typeof JobViewSchema>;

export const TransferRequestViewSchema = z
  .strictObject({
    requestId: z.string().describe('req_…'),
    jobCount: z.number().int(),
    jobs: z.array(JobViewSchema).describe('The first 1000 jobs'),
    moreJobs: z.string().optional().describe('Where the rest are listed, when there are more than 1000'),
  })
  .meta({ id: 'TransferRequestView' });

export type TransferRequestView = z.output<typeof TransferRequestViewSchema>;

function deliveryOf(job: TransferJob): JobView['delivery'] {
  const delivery = job.checkpoint?.delivery;
  return DELIVERIES.find((known) => known === delivery);
}

/**
 * An SFTP target's temporary file that an attempt of an ended, undelivered job may have left next to the
 * target (its worker was killed, or could not remove it): its name, so that the customer can tell whose it
 * is. A keyless re-drive reuses or removes it.
 */
function temporaryFileOf(job: TransferJob): string | undefined {
  const undelivered = job.status === 'FAILED' || job.status === 'CANCELLED';
  const wrote = job.startedAt !== undefined && job.checkpoint?.delivery !== 'direct-write';
  if (!undelivered || !wrote || !job.flowType.endsWith('_TO_SFTP')) return undefined;
  return posix.basename(temporaryPathFor(job.targetPath, job.chainId ?? job.jobId));
}

/** What the API shows of a job: its state and history, not the engine's bookkeeping (fencing, fingerprints, checkpoints). */
export function toJobView(job: TransferJob): JobView {
  const temporaryFile = temporaryFileOf(job);
  const delivery = deliveryOf(job);
  return {
    jobId: job.jobId,
    requestId: job.requestId,
    status: job.status,
    flowType: job.flowType,
    source: { endpointId: job.sourceEndpointId, path: job.sourcePath },
    target: { endpointId: job.targetEndpointId, path: job.targetPath },
    transitions: job.transitions,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    completedAt: job.completedAt,
    attempts: job.attempts,
    executionRegion: job.executionRegion,
    bytesTransferred: job.bytesTransferred ?? 0,
    bytesTotal: job.bytesTotal,
    ...(job.errorCode ? { error: { code: job.errorCode, message: job.errorMessage } } : {}),
    ...(job.result ? { result: job.result } : {}),
    ...(job.redriveOf ? { redriveOf: job.redriveOf } : {}),
    trigger: job.trigger ?? { kind: 'API' },
    ...(job.afterTransfer ? { afterTransfer: job.afterTransfer } : {}),
    // The partner forbids renames: the file was written under its final name directly (no .tmp).
    ...(delivery ? { delivery } : {}),
    ...(temporaryFile ? { temporaryFile } : {}),
  };
}

/**
 * The most job views one POST /transfers answer carries. A folder at the request
 * maximum (10,000 files) would otherwise answer with 5 MB and more (25 MB with
 * the longest paths), over Lambda's 6 MB response limit: the jobs would exist,
 * but the customer would only ever see an error. The answer says how many jobs
 * the request has and where the rest are listed (GET /jobs?requestId=, paged).
 */
export const REQUEST_VIEW_MAX_JOBS = 1000;

export function toTransferRequestView(
  requestId: string,
  jobs: TransferJob[],
  maxJobs = REQUEST_VIEW_MAX_JOBS,
): TransferRequestView {
  return {
    requestId,
    jobCount: jobs.length,
    jobs: jobs.slice(0, maxJobs).map(toJobView),
    ...(jobs.length > maxJobs ? { moreJobs: `/jobs?requestId=${encodeURIComponent(requestId)}` } : {}),
  };
}
