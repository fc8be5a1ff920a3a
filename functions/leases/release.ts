import middy from '@middy/core';
import type { LeaseToken } from '../../core/domain/lease';
import { releaseLease } from '../../core/domain/lease-service';
import { buildStores } from '../../core/runtime/wiring';

const stores = buildStores();

/** Step Functions task: give the partition lease up when the job is done. */
export const handler = middy<LeaseToken>().handler(async (token) => {
  await releaseLease(stores, token);
  return { released: true };
});
