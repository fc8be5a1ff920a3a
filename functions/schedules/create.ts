import { httpApi } from '../../core/control-plane/http/api';
import { CreateScheduleSchema } from '../../core/control-plane/triggers/schemas';
import { createSchedule } from '../../core/control-plane/triggers/service';
import { buildTriggerApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTriggerApi();

/** POST /schedules: poll a partner's SFTP folder on a rate or cron and pull new, stable files to a target. */
export const handler = httpApi({ principals, body: CreateScheduleSchema }, async ({ caller, body }) => ({
  status: 201,
  body: await createSchedule(deps, caller, body),
}));
