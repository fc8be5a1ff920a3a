import middy from '@middy/core';
import { startTransfer } from '../../core/control-plane/orchestration/orchestration';
import type { JobKey } from '../../core/domain/ports';
import { buildOrchestration } from '../../core/runtime/wiring';

const deps = buildOrchestration();

/** State machine task: lease + RUNNING (or SKIP a finished job). LeaseHeldError makes it wait and retry. */
export const handler = middy<JobKey & { executionId: string }>().handler((input) => startTransfer(deps, input));
