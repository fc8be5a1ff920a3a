import { httpApi } from '../../core/control-plane/http/api';
import { TriggerPageQuerySchema } from '../../core/control-plane/triggers/schemas';
import { listRoutes } from '../../core/control-plane/triggers/service';
import { buildTriggerApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTriggerApi();

/** GET /routes?limit=&cursor=: the caller's routes, a page at a time. */
export const handler = httpApi({ principals, query: TriggerPageQuerySchema }, async ({ caller, query }) => ({
  status: 200,
  body: await listRoutes(deps, caller, query),
}));
