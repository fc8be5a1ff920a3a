import middy from '@middy/core';
import { type AcquireLeaseRequest, acquireLease } from '../../core/domain/lease-service';
import { buildStores } from '../../core/runtime/wiring';

const stores = buildStores();

/** Step Functions task: take the partition lease; LeaseHeldError lets the state machine wait and retry. */
export const handler = middy<AcquireLeaseRequest>().handler((request) => acquireLease(stores, request));
