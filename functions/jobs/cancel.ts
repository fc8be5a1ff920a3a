import { httpApi } from '../../core/http/api';
import { buildTransferApi } from '../../core/runtime/wiring';
import { JobPathSchema } from '../../core/transfers/schemas';
import { cancelJob } from '../../core/transfers/service';
import { toJobView } from '../../core/transfers/view';

const { deps, principals } = buildTransferApi();

/** POST /jobs/{jobId}/cancel: before execution only; 409 once it has started. */
export const handler = httpApi({ principals, path: JobPathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: toJobView(await cancelJob(deps, caller, path.jobId)),
}));
