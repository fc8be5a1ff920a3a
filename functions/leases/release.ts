import { LeaseTokenSchema } from '../../core/control-plane/tasks/schemas';
import { stateMachineTask } from '../../core/control-plane/tasks/task';
import { releaseLease } from '../../core/domain/lease-service';
import { buildStores } from '../../core/runtime/wiring';

const stores = buildStores();

/** State machine task: give the partition lease up when the job is done. */
export const handler = stateMachineTask(LeaseTokenSchema, async (token) => {
  await releaseLease(stores, token);
  return { released: true };
});
