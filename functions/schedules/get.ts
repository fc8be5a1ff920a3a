import { httpApi } from '../../core/control-plane/http/api';
import { SchedulePathSchema } from '../../core/control-plane/triggers/schemas';
import { getSchedule } from '../../core/control-plane/triggers/service';
import { buildTriggerApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTriggerApi();

/** GET /schedules/{scheduleId} */
export const handler = httpApi({ principals, path: SchedulePathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: await getSchedule(deps, caller, path.scheduleId),
}));
