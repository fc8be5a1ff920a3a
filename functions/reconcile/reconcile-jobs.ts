import middy from '@middy/core';
import { reconcile } from '../../core/control-plane/reconcile/reconcile';
import { withInvocationLogger } from '../../core/observability/invocation';
import { metrics } from '../../core/observability/metrics';
import { buildReconciler } from '../../core/runtime/wiring';

const deps = buildReconciler();

/** Every minute (functions/reconcile.yml): restarts the jobs whose execution is gone. */
export const handler = withInvocationLogger(
  middy().handler(async () => {
    const outcome = await reconcile(deps);
    // Every tick, 0 included, so the stuck-jobs alarm sees data rather than none.
    metrics.publish([
      { name: 'StuckJobs', value: outcome.stuck.length },
      { name: 'ReconcileRestarts', value: outcome.restarted },
    ]);
    return { active: outcome.active, held: outcome.held, restarted: outcome.restarted, stuck: outcome.stuck.length };
  }),
);
