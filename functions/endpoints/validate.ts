import { EndpointPathSchema } from '../../core/control-plane/endpoints/schemas';
import { validateEndpoint } from '../../core/control-plane/endpoints/service';
import { httpApi } from '../../core/control-plane/http/api';
import { buildEndpointApi } from '../../core/runtime/wiring';

const { deps, principals } = buildEndpointApi();

/** POST /endpoints/{id}/validate: connect, check, record capabilities; ACTIVE only if it passes. */
export const handler = httpApi({ principals, path: EndpointPathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: await validateEndpoint(deps, caller, path.id),
}));
