import middy from '@middy/core';
import { verifyTransfer } from '../../core/control-plane/orchestration/orchestration';
import type { LeaseToken } from '../../core/domain/lease';
import type { JobKey } from '../../core/domain/ports';
import { buildOrchestration } from '../../core/runtime/wiring';

const deps = buildOrchestration();

/** State machine task: VERIFYING → SUCCEEDED if the destination holds what was delivered. */
export const handler = middy<JobKey & { lease: LeaseToken }>().handler(async (input) => {
  const job = await verifyTransfer(deps, input);
  return { status: job.status };
});
