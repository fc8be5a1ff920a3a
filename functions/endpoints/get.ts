import { EndpointPathSchema } from '../../core/endpoints/schemas';
import { getEndpoint } from '../../core/endpoints/service';
import { httpApi } from '../../core/http/api';
import { buildEndpointApi } from '../../core/runtime/wiring';

const { deps, principals } = buildEndpointApi();

/** GET /endpoints/{id} */
export const handler = httpApi({ principals, path: EndpointPathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: await getEndpoint(deps, caller, path.id),
}));
