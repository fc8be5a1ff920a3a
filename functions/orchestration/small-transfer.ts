import { LeasedJobInputSchema } from '../../core/control-plane/tasks/schemas';
import { stateMachineTask } from '../../core/control-plane/tasks/task';
import { buildSmallTransfer, runSmallTransfer } from '../../core/runtime/small-transfer';

const deps = buildSmallTransfer();

/**
 * State machine task: the small-file fast path, one job's SFTP legs by the worker's code in this
 * function (core/runtime/small-transfer.ts says what happens when it runs out of time).
 */
export const handler = stateMachineTask(LeasedJobInputSchema, async (input, task) => {
  const { result } = await runSmallTransfer(deps, task.log, input, task.remainingMs);
  return { bytes: result.bytes, alreadyPresent: result.alreadyPresent };
});
