/**
 * The engine's own CloudWatch metrics, named once: the code that emits them (Powertools Metrics, EMF) and the
 * stack's alarms and dashboard (resources/alarms.yml, resources/dashboard.yml) must agree on every name, and the
 * templates test fails when the YAML names a metric that is not here or leaves one of these off the dashboard.
 *
 * Every metric is emitted in namespace `eft` with the single dimension set { service: "eft" } (Powertools' default
 * dimension), which is what the alarms read; breakdowns are separate metrics with one more dimension
 * ({ service, Flow } or { service, ErrorCode }), which the dashboard reads with SEARCH.
 */

export const METRIC_NAMESPACE = 'eft';
/** Powertools' `service` (its default dimension). */
export const METRIC_SERVICE = 'eft';

/** The extra dimension of a breakdown: a job's flow type, or a failed job's error code (core/domain/error-codes.ts). */
export const METRIC_BREAKDOWNS = { flow: 'Flow', errorCode: 'ErrorCode' } as const;
export type MetricBreakdown = (typeof METRIC_BREAKDOWNS)[keyof typeof METRIC_BREAKDOWNS];

/** Powertools' MetricUnit values, spelled out so this module needs no dependency. */
export type MetricUnitName = 'Count' | 'Bytes' | 'Bytes/Second' | 'Milliseconds';

export interface MetricDefinition {
  unit: MetricUnitName;
  /** When one data point is emitted. */
  meaning: string;
  /** Also emitted with these breakdown dimensions. */
  breakdowns: readonly MetricBreakdown[];
}

const metric = (unit: MetricUnitName, meaning: string, ...breakdowns: MetricBreakdown[]): MetricDefinition => ({
  unit,
  meaning,
  breakdowns,
});

export const METRICS = {
  BytesMoved: metric('Bytes', 'the bytes a SUCCEEDED job moved', 'Flow'),
  Throughput: metric('Bytes/Second', 'a SUCCEEDED job’s bytes over its transfer time', 'Flow'),
  JobDuration: metric('Milliseconds', 'created → terminal, per terminal job', 'Flow'),
  JobsSucceeded: metric('Count', 'a job ended SUCCEEDED'),
  JobsFailed: metric('Count', 'a job ended FAILED', 'ErrorCode'),
  JobsCancelled: metric('Count', 'a job ended CANCELLED'),
  LeaseWaitTime: metric('Milliseconds', 'a job’s wait from QUEUED to RUNNING'),
  Takeovers: metric('Count', 'a job resumed under a newer lease epoch'),
  StuckJobs: metric('Count', 'the reconciler’s stuck jobs, every tick (0 when none)'),
  ReconcileRestarts: metric('Count', 'the executions a reconciler tick started'),
  WorkerStartLatency: metric('Milliseconds', 'RunWorker requested → worker process running'),
  WebhookDeliveryFailures: metric('Count', 'a webhook delivery that failed'),
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRICS;

export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

export function isMetricName(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name);
}
