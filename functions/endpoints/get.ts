import { EndpointPathSchema } from '../../core/control-plane/endpoints/schemas';
import { getEndpoint } from '../../core/control-plane/endpoints/service';
import { httpApi } from '../../core/control-plane/http/api';
import { buildEndpointApi } from '../../core/runtime/wiring';

const { deps, principals } = buildEndpointApi();

/** GET /endpoints/{id} */
export const handler = httpApi({ principals, path: EndpointPathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: await getEndpoint(deps, caller, path.id),
}));
