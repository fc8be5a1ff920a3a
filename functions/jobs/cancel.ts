import { httpApi } from '../../core/control-plane/http/api';
import { JobPathSchema } from '../../core/control-plane/transfers/schemas';
import { cancelJob } from '../../core/control-plane/transfers/service';
import { toJobView } from '../../core/control-plane/transfers/view';
import { buildTransferApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTransferApi();

/** POST /jobs/{jobId}/cancel: before execution only; 409 once it has started. */
export const handler = httpApi({ principals, path: JobPathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: toJobView(await cancelJob(deps, caller, path.jobId)),
}));
