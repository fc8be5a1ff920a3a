import middy from '@middy/core';
import type { BatchInput } from '../../core/domain/ports';
import { buildOrchestration } from '../../core/runtime/wiring';
import { startBatch } from '../../core/transfers/orchestration';

const deps = buildOrchestration();

/** State machine task: the partition lease for a batch of small files (null: nothing to run). LeaseHeldError waits. */
export const handler = middy<BatchInput & { executionId: string }>().handler((input) => startBatch(deps, input));
