import { verifyTransfer } from '../../core/control-plane/orchestration/orchestration';
import { LeasedJobInputSchema } from '../../core/control-plane/tasks/schemas';
import { stateMachineTask } from '../../core/control-plane/tasks/task';
import { buildOrchestration } from '../../core/runtime/wiring';

const deps = buildOrchestration();

/** State machine task: VERIFYING → SUCCEEDED if the destination holds what was delivered. */
export const handler = stateMachineTask(LeasedJobInputSchema, async (input) => {
  const job = await verifyTransfer(deps, input);
  return { status: job.status };
});
