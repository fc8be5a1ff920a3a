import { httpApi } from '../../core/control-plane/http/api';
import { ListJobsQuerySchema } from '../../core/control-plane/transfers/schemas';
import { listJobs } from '../../core/control-plane/transfers/service';
import { toJobView } from '../../core/control-plane/transfers/view';
import { buildTransferApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTransferApi();

/** GET /jobs?status=&requestId=&limit=&cursor= */
export const handler = httpApi({ principals, query: ListJobsQuerySchema }, async ({ caller, query }) => {
  const { status, requestId, limit, cursor } = query;
  const page = await listJobs(deps, caller, { status, requestId }, { limit, cursor });
  return { status: 200, body: { items: page.items.map(toJobView), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) } };
});
