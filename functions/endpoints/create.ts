import { CreateEndpointSchema } from '../../core/control-plane/endpoints/schemas';
import { createEndpoint } from '../../core/control-plane/endpoints/service';
import { httpApi } from '../../core/control-plane/http/api';
import { buildEndpointApi } from '../../core/runtime/wiring';

const { deps, principals } = buildEndpointApi();

/** POST /endpoints: register an SFTP or S3 endpoint; it stays PENDING until validated. */
export const handler = httpApi({ principals, body: CreateEndpointSchema }, async ({ caller, body }) => ({
  status: 201,
  body: await createEndpoint(deps, caller, body),
}));
