import { PageQuerySchema } from '../../core/endpoints/schemas';
import { listEndpoints } from '../../core/endpoints/service';
import { httpApi } from '../../core/http/api';
import { buildEndpointApi } from '../../core/runtime/wiring';

const { deps, principals } = buildEndpointApi();

/** GET /endpoints?limit=&cursor=: the caller's endpoints, a page at a time. */
export const handler = httpApi({ principals, query: PageQuerySchema }, async ({ caller, query }) => ({
  status: 200,
  body: await listEndpoints(deps, caller, query),
}));
