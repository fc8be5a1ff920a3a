import { httpApi } from '../../core/control-plane/http/api';
import { RoutePathSchema } from '../../core/control-plane/triggers/schemas';
import { getRoute } from '../../core/control-plane/triggers/service';
import { buildTriggerApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTriggerApi();

/** GET /routes/{routeId} */
export const handler = httpApi({ principals, path: RoutePathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: await getRoute(deps, caller, path.routeId),
}));
