import { httpApi } from '../../core/control-plane/http/api';
import { SchedulePathSchema, UpdateScheduleSchema } from '../../core/control-plane/triggers/schemas';
import { updateSchedule } from '../../core/control-plane/triggers/service';
import { buildTriggerApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTriggerApi();

/** PATCH /schedules/{scheduleId}: change the schedule; {"enabled": false} disables it, {"enabled": true} enables it. */
export const handler = httpApi(
  { principals, path: SchedulePathSchema, body: UpdateScheduleSchema },
  async ({ caller, path, body }) => ({ status: 200, body: await updateSchedule(deps, caller, path.scheduleId, body) }),
);
