import { EndpointPathSchema, UpdateEndpointSchema } from '../../core/control-plane/endpoints/schemas';
import { updateEndpoint } from '../../core/control-plane/endpoints/service';
import { httpApi } from '../../core/control-plane/http/api';
import { buildEndpointApi } from '../../core/runtime/wiring';

const { deps, principals } = buildEndpointApi();

/** PATCH /endpoints/{id}: change settings, rotate credentials, activate or deactivate. */
export const handler = httpApi(
  { principals, path: EndpointPathSchema, body: UpdateEndpointSchema },
  async ({ caller, path, body }) => ({ status: 200, body: await updateEndpoint(deps, caller, path.id, body) }),
);
