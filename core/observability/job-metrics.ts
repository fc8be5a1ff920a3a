import { aboutJob, jobEnded, jobStarted, type Metrics } from '../domain/metrics';
import type { JobStore } from '../domain/ports';

/**
 * A job store that publishes what each committed change of a job means: a job
 * ended (outcome, duration, bytes, throughput), started (its lease wait), or was
 * taken over under a newer lease epoch. Every change of status goes through
 * transition() and every takeover through resume(), and each succeeds once per
 * change (a refused one throws), so each fact is counted once, wherever it
 * happens (API, state machine task, worker).
 */
export function withJobMetrics<S extends JobStore>(store: S, metrics: Metrics): S {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'transition') {
        return async (...args: Parameters<JobStore['transition']>) => {
          const job = await target.transition(...args);
          metrics.publish(args[1] === 'RUNNING' ? jobStarted(job) : jobEnded(job), aboutJob(job));
          return job;
        };
      }
      if (property === 'resume') {
        return async (...args: Parameters<JobStore['resume']>) => {
          const job = await target.resume(...args);
          metrics.publish([{ name: 'Takeovers', value: 1 }], aboutJob(job));
          return job;
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
