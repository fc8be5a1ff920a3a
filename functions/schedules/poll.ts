import { sqsBatchHandler } from '../../core/control-plane/queues/sqs-batch';
import { pollSchedule } from '../../core/control-plane/schedules/poll';
import { parsePollRequest } from '../../core/control-plane/schedules/schemas';
import { buildSchedulePoll } from '../../core/runtime/schedules';

const deps = buildSchedulePoll();

/** One poll per message (batch size 1, functions/schedules.yml). */
export const handler = sqsBatchHandler((body) => pollSchedule(deps, parsePollRequest(body)));
