import { httpApi } from '../../core/control-plane/http/api';
import { RoutePathSchema } from '../../core/control-plane/triggers/schemas';
import { deleteRoute } from '../../core/control-plane/triggers/service';
import { buildTriggerApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTriggerApi();

/** DELETE /routes/{routeId}: the route is deleted (its audit trail stays); the answer is what it was. */
export const handler = httpApi({ principals, path: RoutePathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: await deleteRoute(deps, caller, path.routeId),
}));
