import { httpApi } from '../../core/control-plane/http/api';
import { CreateRouteSchema } from '../../core/control-plane/triggers/schemas';
import { createRoute } from '../../core/control-plane/triggers/service';
import { buildTriggerApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTriggerApi();

/** POST /routes: a standing rule: objects created under an S3 endpoint's folder are delivered to a target. */
export const handler = httpApi({ principals, body: CreateRouteSchema }, async ({ caller, body }) => ({
  status: 201,
  body: await createRoute(deps, caller, body),
}));
