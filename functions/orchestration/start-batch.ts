import middy from '@middy/core';
import { startBatch } from '../../core/control-plane/orchestration/orchestration';
import type { BatchInput } from '../../core/domain/ports';
import { buildOrchestration } from '../../core/runtime/wiring';

const deps = buildOrchestration();

/** State machine task: the partition lease for a batch of small files (null: nothing to run). LeaseHeldError waits. */
export const handler = middy<BatchInput & { executionId: string }>().handler((input) => startBatch(deps, input));
