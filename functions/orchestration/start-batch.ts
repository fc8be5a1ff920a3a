import { startBatch } from '../../core/control-plane/orchestration/orchestration';
import { StartBatchInputSchema } from '../../core/control-plane/tasks/schemas';
import { stateMachineTask } from '../../core/control-plane/tasks/task';
import { buildOrchestration } from '../../core/runtime/wiring';

const deps = buildOrchestration();

/** State machine task: the partition lease for a batch of small files (null: nothing to run). LeaseHeldError waits. */
export const handler = stateMachineTask(StartBatchInputSchema, (input) => startBatch(deps, input));
