import middy from '@middy/core';
import { failBatch, type StateError } from '../../core/control-plane/orchestration/orchestration';
import type { LeaseToken } from '../../core/domain/lease';
import type { BatchInput } from '../../core/domain/ports';
import { buildOrchestration } from '../../core/runtime/wiring';

const deps = buildOrchestration();

/** State machine task: the batch's worker failed as a whole; fail the jobs it left unfinished, release the lease. */
export const handler = middy<BatchInput & { lease?: LeaseToken | null; error?: StateError }>().handler(({ lease, ...input }) =>
  failBatch(deps, { ...input, ...(lease ? { lease } : {}) }),
);
