/**
 * The Metrics port (core/domain/metrics.ts) over Powertools Metrics: CloudWatch
 * embedded metric format (EMF), one JSON line on stdout per dimension set, which
 * CloudWatch Logs turns into metrics (locally the lines are simply printed).
 *
 * Every measurement is published under { service: "eft" } (Powertools' default
 * dimension, what the alarms use); one with a breakdown (Flow, ErrorCode) also
 * under { service, <breakdown> }. Each fact is published where it happens, in
 * its own EMF document with the ids it is about as properties, rather than
 * buffered until the end of an invocation: invocations overlap in one process
 * (the local runtime; a worker's batch), and a buffer shared between them would
 * mix their ids, while a worker that is killed would lose what it buffered.
 */
import { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import type { MetricUnit } from '@aws-lambda-powertools/metrics/types';
import { METRICS } from '../domain/metric-names';
import type { Measurement, Metrics } from '../domain/metrics';
import { SERVICE_NAME } from './logger';

/** The CloudWatch namespace of the engine's metrics (POWERTOOLS_METRICS_NAMESPACE says the same). */
export const METRICS_NAMESPACE = 'eft';

export function powertoolsMetrics(): Metrics {
  // One Powertools instance for every document: constructing one reads a dozen environment
  // variables and builds its stores (about 1 ms of CPU per small file of a batch, which publishes
  // two or three documents). Each document is built and published synchronously, and
  // publishStoredMetrics clears the metrics, the added dimension and the metadata, so nothing of
  // one document reaches the next (the default dimension, service, stays).
  let shared: PowertoolsMetrics | undefined;
  return {
    publish(measurements, about = {}) {
      const groups = new Map<string, { dimension?: [string, string]; items: Measurement[] }>();
      for (const m of measurements) {
        if (!Number.isFinite(m.value)) continue;
        groupOf(groups, undefined).items.push(m);
        if (m.by) groupOf(groups, Object.entries(m.by)[0] as [string, string]).items.push(m);
      }
      for (const { dimension, items } of groups.values()) {
        shared ??= new PowertoolsMetrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
        const emf = shared;
        try {
          if (dimension) emf.addDimension(...dimension);
          for (const [key, value] of Object.entries(about)) emf.addMetadata(key, value);
          for (const m of items) emf.addMetric(m.name, METRICS[m.name].unit as MetricUnit, m.value);
        } catch (error) {
          // A document refused half-built leaves nothing behind for the next one.
          emf.clearMetrics();
          emf.clearDimensions();
          emf.clearMetadata();
          throw error;
        }
        emf.publishStoredMetrics();
      }
    },
  };
}

function groupOf(
  groups: Map<string, { dimension?: [string, string]; items: Measurement[] }>,
  dimension: [string, string] | undefined,
) {
  const key = dimension ? dimension.join('=') : '';
  let group = groups.get(key);
  if (!group) {
    group = { ...(dimension ? { dimension } : {}), items: [] };
    groups.set(key, group);
  }
  return group;
}

/** The process's metrics. */
export const metrics: Metrics = powertoolsMetrics();
