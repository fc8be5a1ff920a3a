import { describeEgress, EgressQuerySchema, egressSettingsFromEnv } from '../../core/control-plane/egress/egress';
import { httpApi } from '../../core/control-plane/http/api';
import { buildStores } from '../../core/runtime/wiring';

// Read once per container: the addresses change only with a deploy.
const settings = egressSettingsFromEnv(process.env);
const { principals } = buildStores();

/** GET /egress: the addresses a partner allow-lists for this region. */
export const handler = httpApi({ principals, query: EgressQuerySchema }, async () => ({
  status: 200,
  body: describeEgress(settings),
}));
