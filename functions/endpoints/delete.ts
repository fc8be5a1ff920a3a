import { EndpointPathSchema } from '../../core/control-plane/endpoints/schemas';
import { disableEndpoint } from '../../core/control-plane/endpoints/service';
import { httpApi } from '../../core/control-plane/http/api';
import { buildEndpointApi } from '../../core/runtime/wiring';

const { deps, principals } = buildEndpointApi();

/** DELETE /endpoints/{id}: disables the endpoint (running jobs finish, new jobs are refused). */
export const handler = httpApi({ principals, path: EndpointPathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: await disableEndpoint(deps, caller, path.id),
}));
