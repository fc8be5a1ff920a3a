import { runServerSideCopy } from '../../core/control-plane/orchestration/orchestration';
import { CopyInputSchema } from '../../core/control-plane/tasks/schemas';
import { stateMachineTask } from '../../core/control-plane/tasks/task';
import { buildOrchestration } from '../../core/runtime/wiring';

const deps = buildOrchestration();

/** State machine task: S3→S3 server-side copy (CopyObject, or UploadPartCopy in parallel above the threshold). */
export const handler = stateMachineTask(CopyInputSchema, async (input) => {
  const result = await runServerSideCopy(deps, input);
  return { bytes: result.bytes, alreadyPresent: result.alreadyPresent };
});
