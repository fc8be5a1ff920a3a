import middy from '@middy/core';
import type { LeaseToken } from '../../core/domain/lease';
import { renewLease } from '../../core/domain/lease-service';
import { buildStores } from '../../core/runtime/wiring';

const stores = buildStores();

/** Step Functions task: heartbeat; StaleOwnerError means another holder has taken over. */
export const handler = middy<LeaseToken>().handler((token) => renewLease(stores, token));
