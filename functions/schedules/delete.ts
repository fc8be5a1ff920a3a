import { httpApi } from '../../core/control-plane/http/api';
import { SchedulePathSchema } from '../../core/control-plane/triggers/schemas';
import { deleteSchedule } from '../../core/control-plane/triggers/service';
import { buildTriggerApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTriggerApi();

/** DELETE /schedules/{scheduleId}: the schedule is deleted (its audit trail stays); the answer is what it was. */
export const handler = httpApi({ principals, path: SchedulePathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: await deleteSchedule(deps, caller, path.scheduleId),
}));
