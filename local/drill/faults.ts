import { type DrillEngine, WEST } from './engine';
import type { Random } from './random';

/** What the drill does to the region its transfers run in (us-gov-west-1). */
export const FAULTS = [
  'region-sigkill',
  'region-sigkill-orphans',
  'region-sigterm',
  'sfn-sigkill',
  'sfn-sigterm',
  'api-sigkill',
  'api-sigterm',
  'worker-sigkill',
  'worker-sigterm',
  'engine-restart',
] as const;
/** Split brain (with DynamoDB replication): replication stalls longer than the lease TTL, west alive or its workers orphaned. */
export const SPLIT_BRAIN_FAULTS = ['partition', 'partition-orphans'] as const;
export type Fault = (typeof FAULTS)[number] | (typeof SPLIT_BRAIN_FAULTS)[number];

/** Faults after which west's executions are gone, so the other region (or a restart) must take the jobs over. */
export const TAKEOVER_FAULTS: Fault[] = [
  'region-sigkill',
  'region-sigkill-orphans',
  'region-sigterm',
  'sfn-sigkill',
  'sfn-sigterm',
  'engine-restart',
  'partition',
  'partition-orphans',
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Injects the fault; `recovery` settles once west is whole again. */
export async function inject(
  engine: DrillEngine,
  fault: Fault,
  random: Random,
  settings: { leaseTtlMs: number; replicationLagMs?: number },
): Promise<{ recovery: Promise<void> }> {
  const { stack } = engine;
  const ttl = settings.leaseTtlMs;
  const later = (ms: number, then: () => Promise<unknown>) => ({
    recovery: sleep(ms)
      .then(then)
      .then(() => undefined),
  });
  const done = { recovery: Promise.resolve() };
  // West comes back between half a TTL and three TTLs after it died: before or after east took over.
  const backAfter = () => random.between(ttl / 2, 3 * ttl);
  switch (fault) {
    case 'region-sigkill':
    case 'region-sigterm':
      await stack.killRegion(WEST, fault === 'region-sigkill' ? 'SIGKILL' : 'SIGTERM');
      return later(backAfter(), () => engine.stack.restartRegion(WEST));
    case 'region-sigkill-orphans':
      await stack.killRegion(WEST, 'SIGKILL', { workers: 'orphan' });
      return later(backAfter(), () => engine.stack.restartRegion(WEST));
    case 'sfn-sigkill':
    case 'sfn-sigterm':
      await stack.killRegion(WEST, fault === 'sfn-sigkill' ? 'SIGKILL' : 'SIGTERM', { roles: ['step-functions'] });
      return later(backAfter(), () => engine.stack.restartRegion(WEST));
    case 'api-sigkill':
    case 'api-sigterm':
      await stack.killRegion(WEST, fault === 'api-sigkill' ? 'SIGKILL' : 'SIGTERM', { roles: ['api'] });
      return later(backAfter(), () => engine.stack.restartRegion(WEST));
    case 'worker-sigkill':
    case 'worker-sigterm':
      await stack.killRegion(WEST, fault === 'worker-sigkill' ? 'SIGKILL' : 'SIGTERM', { roles: ['worker'] });
      return done;
    case 'engine-restart':
      await engine.restartEngine();
      return done;
    case 'partition':
    case 'partition-orphans': {
      // Replication stalls for three lease TTLs: each region sees the other's lease expire.
      const replication = stack.replication;
      if (!replication) throw new Error('drill: a partition needs DynamoDB replication (--split-brain)');
      replication.setLag(3 * ttl);
      if (fault === 'partition-orphans')
        await stack.killRegion(WEST, 'SIGKILL', { roles: ['step-functions'], workers: 'orphan' });
      return later(3 * ttl, async () => {
        replication.setLag(settings.replicationLagMs ?? 0);
        if (fault === 'partition-orphans') await engine.stack.restartRegion(WEST);
      });
    }
  }
}
