import { CreateEndpointSchema } from '../../core/endpoints/schemas';
import { createEndpoint } from '../../core/endpoints/service';
import { httpApi } from '../../core/http/api';
import { buildEndpointApi } from '../../core/runtime/wiring';

const { deps, principals } = buildEndpointApi();

/** POST /endpoints: register an SFTP or S3 endpoint; it stays PENDING until validated. */
export const handler = httpApi({ principals, body: CreateEndpointSchema }, async ({ caller, body }) => ({
  status: 201,
  body: await createEndpoint(deps, caller, body),
}));
