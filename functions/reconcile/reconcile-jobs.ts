import middy from '@middy/core';
import { reconcile } from '../../core/control-plane/reconcile/reconcile';
import { buildReconciler } from '../../core/runtime/wiring';

const deps = buildReconciler();

/** Every minute (functions/reconcile.yml): restarts the jobs whose execution is gone. */
export const handler = middy().handler(async () => {
  const outcome = await reconcile(deps);
  return { active: outcome.active, held: outcome.held, restarted: outcome.restarted, stuck: outcome.stuck.length };
});
