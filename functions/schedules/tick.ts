import middy from '@middy/core';
import { tick } from '../../core/control-plane/schedules/tick';
import { withInvocationLogger } from '../../core/observability/invocation';
import { buildScheduleTick } from '../../core/runtime/schedules';

const deps = buildScheduleTick();

/** Every minute (functions/schedules.yml): claims the due runs of schedules and queues one poll per run. */
export const handler = withInvocationLogger(
  middy().handler(async () => {
    const outcome = await tick(deps);
    return { sent: outcome.sent.length, lost: outcome.lost, unsent: outcome.unsent.length };
  }),
);
