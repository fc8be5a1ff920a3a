import { httpApi } from '../../core/control-plane/http/api';
import { TriggerPageQuerySchema } from '../../core/control-plane/triggers/schemas';
import { listSchedules } from '../../core/control-plane/triggers/service';
import { buildTriggerApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTriggerApi();

/** GET /schedules?limit=&cursor=: the caller's schedules, a page at a time. */
export const handler = httpApi({ principals, query: TriggerPageQuerySchema }, async ({ caller, query }) => ({
  status: 200,
  body: await listSchedules(deps, caller, query),
}));
