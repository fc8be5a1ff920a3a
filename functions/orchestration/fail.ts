import { failTransfer } from '../../core/control-plane/orchestration/orchestration';
import { FailTransferInputSchema } from '../../core/control-plane/tasks/schemas';
import { stateMachineTask } from '../../core/control-plane/tasks/task';
import { buildOrchestration } from '../../core/runtime/wiring';

const deps = buildOrchestration();

/** State machine task: record why the job failed, release the lease. */
export const handler = stateMachineTask(FailTransferInputSchema, (input) => failTransfer(deps, input));
