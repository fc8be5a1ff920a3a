import { failBatch } from '../../core/control-plane/orchestration/orchestration';
import { FailBatchInputSchema } from '../../core/control-plane/tasks/schemas';
import { stateMachineTask } from '../../core/control-plane/tasks/task';
import { buildOrchestration } from '../../core/runtime/wiring';

const deps = buildOrchestration();

/** State machine task: the batch's worker failed as a whole; fail the jobs it left unfinished, release the lease. */
export const handler = stateMachineTask(FailBatchInputSchema, ({ lease, ...input }) =>
  failBatch(deps, { ...input, ...(lease ? { lease } : {}) }),
);
