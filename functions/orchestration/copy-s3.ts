import middy from '@middy/core';
import { runS3Copy } from '../../core/control-plane/orchestration/orchestration';
import type { LeaseToken } from '../../core/domain/lease';
import type { JobKey } from '../../core/domain/ports';
import { buildOrchestration } from '../../core/runtime/wiring';

const deps = buildOrchestration();

/** State machine task: S3→S3 server-side copy (CopyObject, or UploadPartCopy in parallel above the threshold). */
export const handler = middy<JobKey & { lease: LeaseToken }>().handler(async (input) => {
  const result = await runS3Copy(deps, input);
  return { bytes: result.bytes, alreadyPresent: result.alreadyPresent };
});
