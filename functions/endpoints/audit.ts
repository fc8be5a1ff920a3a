import { EndpointPathSchema, PageQuerySchema } from '../../core/control-plane/endpoints/schemas';
import { endpointAudit } from '../../core/control-plane/endpoints/service';
import { httpApi } from '../../core/control-plane/http/api';
import { buildEndpointApi } from '../../core/runtime/wiring';

const { deps, principals } = buildEndpointApi();

/** GET /endpoints/{id}/audit: who changed what, when. */
export const handler = httpApi(
  { principals, path: EndpointPathSchema, query: PageQuerySchema },
  async ({ caller, path, query }) => ({
    status: 200,
    body: await endpointAudit(deps, caller, path.id, query),
  }),
);
