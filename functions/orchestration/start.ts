import { startTransfer } from '../../core/control-plane/orchestration/orchestration';
import { StartTransferInputSchema } from '../../core/control-plane/tasks/schemas';
import { stateMachineTask } from '../../core/control-plane/tasks/task';
import { buildOrchestration } from '../../core/runtime/wiring';

const deps = buildOrchestration();

/** State machine task: lease + RUNNING (or SKIP a finished job). LeaseHeldError makes it wait and retry. */
export const handler = stateMachineTask(StartTransferInputSchema, (input) => startTransfer(deps, input));
