/**
 * The engine's metrics, as the domain states them (their names and units: metric-names.ts, which the
 * alarms and dashboard are checked against; core/observability/metrics.ts publishes them as CloudWatch
 * metrics in the namespace `eft`, dimension service=eft).
 */
import type { TransferJob } from './job';
import type { MetricName } from './metric-names';

export type { MetricName } from './metric-names';

/** One value of a metric; `by` also publishes it broken down by one more dimension. */
export interface Measurement {
  name: MetricName;
  value: number;
  by?: { Flow: string } | { ErrorCode: string };
}

export interface Metrics {
  /**
   * Publishes the measurements of one fact, at once; `about` says what they are
   * about (a job's and customer's ids), alongside the values, never a secret.
   */
  publish(measurements: readonly Measurement[], about?: Record<string, string>): void;
}

/** For code run where nothing is measured (tests that do not look at metrics). */
export const noMetrics: Metrics = { publish: () => undefined };

const OUTCOME_METRIC = { SUCCEEDED: 'JobsSucceeded', FAILED: 'JobsFailed', CANCELLED: 'JobsCancelled' } as const;

/** What a job that has just ended says: its outcome, duration (created → ended) and, if it succeeded, bytes and throughput. */
export function jobEnded(job: TransferJob): Measurement[] {
  const outcome = OUTCOME_METRIC[job.status as keyof typeof OUTCOME_METRIC];
  if (!outcome) return [];
  const flow = { Flow: job.flowType };
  const endedAt = Date.parse(job.completedAt ?? job.updatedAt);
  const measurements: Measurement[] = [
    { name: outcome, value: 1, ...(job.status === 'FAILED' ? { by: { ErrorCode: job.errorCode ?? 'UNKNOWN' } } : {}) },
    { name: 'JobDuration', value: endedAt - Date.parse(job.createdAt), by: flow },
  ];
  if (job.status === 'SUCCEEDED') {
    // Nothing was written when the destination already held the content.
    const bytes = job.result?.alreadyPresent ? 0 : (job.result?.bytes ?? job.bytesTransferred ?? 0);
    const seconds = (endedAt - Date.parse(job.startedAt ?? job.createdAt)) / 1000;
    measurements.push({ name: 'BytesMoved', value: bytes, by: flow });
    if (seconds > 0) measurements.push({ name: 'Throughput', value: bytes / seconds, by: flow });
  }
  return measurements;
}

/** How long a job that has just started RUNNING waited (QUEUED → RUNNING: the partition lease, a free worker). */
export function jobStarted(job: TransferJob): Measurement[] {
  const queued = job.transitions.find((t) => t.status === 'QUEUED');
  const running = job.transitions.find((t) => t.status === 'RUNNING');
  if (!queued || !running) return [];
  return [{ name: 'LeaseWaitTime', value: Date.parse(running.at) - Date.parse(queued.at) }];
}

/** The ids that tie a job's measurements to it. */
export function aboutJob(job: Pick<TransferJob, 'jobId' | 'customerId'>): Record<string, string> {
  return { jobId: job.jobId, customerId: job.customerId };
}

/**
 * How long after its job went RUNNING (StartTransfer, just before RunWorker) the
 * worker process started. A resumed job's RUNNING time is its first attempt's,
 * so only a first attempt is measured.
 */
export function workerStarted(job: TransferJob, processStartedAt: number): Measurement[] {
  if (!job.startedAt || job.attempts !== 1) return [];
  return [{ name: 'WorkerStartLatency', value: Math.max(0, processStartedAt - Date.parse(job.startedAt)) }];
}
