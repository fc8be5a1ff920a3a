import { PageQuerySchema } from '../../core/control-plane/endpoints/schemas';
import { listEndpoints } from '../../core/control-plane/endpoints/service';
import { httpApi } from '../../core/control-plane/http/api';
import { buildEndpointApi } from '../../core/runtime/wiring';

const { deps, principals } = buildEndpointApi();

/** GET /endpoints?limit=&cursor=: the caller's endpoints, a page at a time. */
export const handler = httpApi({ principals, query: PageQuerySchema }, async ({ caller, query }) => ({
  status: 200,
  body: await listEndpoints(deps, caller, query),
}));
