import { httpApi, parseOrThrow } from '../../core/control-plane/http/api';
import { CreateTransferSchema, IdempotencyKeyHeader } from '../../core/control-plane/transfers/schemas';
import { createTransfers } from '../../core/control-plane/transfers/service';
import { toTransferRequestView } from '../../core/control-plane/transfers/view';
import { appendCorrelationKeys } from '../../core/observability/invocation';
import { buildTransferApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTransferApi();

/** POST /transfers: one job per file; 201 when it created jobs, 200 when it only found them (see toTransferRequestView). */
export const handler = httpApi({ principals, body: CreateTransferSchema }, async ({ caller, body, headers }) => {
  const clientKey = parseOrThrow(IdempotencyKeyHeader, headers['idempotency-key'], 'Idempotency-Key');
  const { created, requestId, jobs } = await createTransfers(deps, caller, body, clientKey);
  // The request's access log line names its jobs, so a job's trail starts at the API.
  appendCorrelationKeys({
    transferRequestId: requestId,
    jobIds: jobs.map((job) => job.jobId),
    jobId: jobs.length === 1 ? jobs[0]?.jobId : undefined,
  });
  return { status: created ? 201 : 200, body: toTransferRequestView(requestId, jobs) };
});
