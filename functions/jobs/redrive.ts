import { httpApi, parseOrThrow } from '../../core/control-plane/http/api';
import { IdempotencyKeyHeader, JobPathSchema } from '../../core/control-plane/transfers/schemas';
import { redriveJob } from '../../core/control-plane/transfers/service';
import { toJobView } from '../../core/control-plane/transfers/view';
import { buildTransferApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTransferApi();

/** POST /jobs/{jobId}/redrive: a new job referencing the failed or cancelled one. */
export const handler = httpApi({ principals, path: JobPathSchema }, async ({ caller, path, headers }) => {
  const clientKey = parseOrThrow(IdempotencyKeyHeader, headers['idempotency-key'], 'Idempotency-Key');
  const { created, job } = await redriveJob(deps, caller, path.jobId, clientKey);
  return { status: created ? 201 : 200, body: toJobView(job) };
});
