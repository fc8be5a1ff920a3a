import { httpApi, parseOrThrow } from '../../core/http/api';
import { buildTransferApi } from '../../core/runtime/wiring';
import { CreateTransferSchema, IdempotencyKeyHeader } from '../../core/transfers/schemas';
import { createTransfers } from '../../core/transfers/service';
import { toTransferRequestView } from '../../core/transfers/view';

const { deps, principals } = buildTransferApi();

/** POST /transfers: one job per file; 201 when it created jobs, 200 when it only found them (see toTransferRequestView). */
export const handler = httpApi({ principals, body: CreateTransferSchema }, async ({ caller, body, headers }) => {
  const clientKey = parseOrThrow(IdempotencyKeyHeader, headers['idempotency-key'], 'Idempotency-Key');
  const { created, requestId, jobs } = await createTransfers(deps, caller, body, clientKey);
  return { status: created ? 201 : 200, body: toTransferRequestView(requestId, jobs) };
});
