import { httpApi } from '../../core/http/api';
import { buildTransferApi } from '../../core/runtime/wiring';
import { JobPathSchema } from '../../core/transfers/schemas';
import { getJob } from '../../core/transfers/service';
import { toJobView } from '../../core/transfers/view';

const { deps, principals } = buildTransferApi();

/** GET /jobs/{jobId}: status, transitions, progress, result or error. */
export const handler = httpApi({ principals, path: JobPathSchema }, async ({ caller, path }) => ({
  status: 200,
  body: toJobView(await getJob(deps, caller, path.jobId)),
}));
