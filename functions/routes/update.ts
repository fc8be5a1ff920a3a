import { httpApi } from '../../core/control-plane/http/api';
import { RoutePathSchema, UpdateRouteSchema } from '../../core/control-plane/triggers/schemas';
import { updateRoute } from '../../core/control-plane/triggers/service';
import { buildTriggerApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTriggerApi();

/** PATCH /routes/{routeId}: change the route; {"enabled": false} disables it, {"enabled": true} enables it. */
export const handler = httpApi(
  { principals, path: RoutePathSchema, body: UpdateRouteSchema },
  async ({ caller, path, body }) => ({ status: 200, body: await updateRoute(deps, caller, path.routeId, body) }),
);
