import { httpApi } from '../../core/http/api';
import { buildTransferApi } from '../../core/runtime/wiring';
import { ListJobsQuerySchema } from '../../core/transfers/schemas';
import { listJobs } from '../../core/transfers/service';
import { toJobView } from '../../core/transfers/view';

const { deps, principals } = buildTransferApi();

/** GET /jobs?status=&requestId=&limit=&cursor= */
export const handler = httpApi({ principals, query: ListJobsQuerySchema }, async ({ caller, query }) => {
  const { status, requestId, limit, cursor } = query;
  const page = await listJobs(deps, caller, { status, requestId }, { limit, cursor });
  return { status: 200, body: { items: page.items.map(toJobView), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) } };
});
