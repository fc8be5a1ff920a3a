import { httpApi } from '../../core/control-plane/http/api';
import { JobPathSchema } from '../../core/control-plane/transfers/schemas';
import { getJob } from '../../core/control-plane/transfers/service';
import { toJobView } from '../../core/control-plane/transfers/view';
import { buildTransferApi } from '../../core/runtime/wiring';

const { deps, principals } = buildTransferApi();

/** GET /jobs/{jobId}: status, transitions, progress, result or error. */
export const handler = httpApi({ principals, path: JobPathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: toJobView(await getJob(deps, caller, path.jobId)),
}));
