import middy from '@middy/core';
import { failTransfer, type StateError } from '../../core/control-plane/orchestration/orchestration';
import type { LeaseToken } from '../../core/domain/lease';
import type { JobKey } from '../../core/domain/ports';
import { buildOrchestration } from '../../core/runtime/wiring';

const deps = buildOrchestration();

/** State machine task: record why the job failed, release the lease. */
export const handler = middy<JobKey & { lease?: LeaseToken; error?: StateError }>().handler((input) => failTransfer(deps, input));
