/**
 * The `stream` events (DynamoDB Streams) of the service's functions, run as Lambda's event source
 * mapping runs them, on the records local/dynamodb-streams.ts makes: batches in order, one at a
 * time per function; a throw retries the whole batch, ReportBatchItemFailures retries from the
 * first record it names (what came before it is done), with a backoff, up to
 * maximumRetryAttempts (then the batch is dropped with a line saying so, where AWS would send its
 * position to the on-failure destination). The handlers are the deployed modules.
 */
import type { LocalPseudoParameters } from './cfn-values';
import { resolveValue } from './cfn-values';
import type { LocalStreamRecord } from './dynamodb-streams';
import { invoker } from './event-sources';
import type { ServiceConfig } from './service-config';

type Resources = ServiceConfig['resources']['Resources'];

interface StreamMapping {
  functionName: string;
  table: string;
  batchSize: number;
  reportsItemFailures: boolean;
  maximumRetryAttempts: number;
}

/**
 * The table a `stream` event reads: its arn is Fn::GetAtt [X, StreamArn] of the table itself, or of
 * a resource whose TableName names the table (resources/notifications.yml's stream lookup, which
 * AWS needs because the east stack cannot Fn::GetAtt the west stack's table).
 */
export function streamTableOf(spec: unknown, pseudo: LocalPseudoParameters, resources: Resources): string | undefined {
  const settings = (spec ?? {}) as { type?: string; arn?: unknown; enabled?: boolean };
  if (settings.type !== 'dynamodb' || settings.enabled === false) return undefined;
  const getAtt = (settings.arn as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt'];
  const resource = getAtt && getAtt[1] === 'StreamArn' ? resources[getAtt[0]] : undefined;
  const tableName = resource?.Properties?.TableName;
  if (tableName === undefined)
    throw new Error(`a stream event reads ${JSON.stringify(settings.arn)}: not a table's stream locally`);
  return resolveValue(tableName, pseudo, resources);
}

function mappingsOf(config: ServiceConfig, pseudo: LocalPseudoParameters): StreamMapping[] {
  const mappings: StreamMapping[] = [];
  for (const [functionName, fn] of Object.entries(config.functions)) {
    for (const event of fn.events ?? []) {
      if (event.stream === undefined) continue;
      const table = streamTableOf(event.stream, pseudo, config.resources.Resources);
      if (!table) continue;
      const settings = event.stream as Record<string, unknown>;
      mappings.push({
        functionName,
        table,
        batchSize: Number(settings.batchSize ?? 100),
        reportsItemFailures: settings.functionResponseType === 'ReportBatchItemFailures',
        maximumRetryAttempts: Number(settings.maximumRetryAttempts ?? -1),
      });
    }
  }
  return mappings;
}

/** The tables some function reads the stream of. */
export function streamedTables(config: ServiceConfig, pseudo: LocalPseudoParameters): string[] {
  return [...new Set(mappingsOf(config, pseudo).map((m) => m.table))];
}

export interface StreamSources {
  deliver(table: string, records: LocalStreamRecord[]): void;
  close(): Promise<void>;
}

export function startStreamSources(options: {
  config: ServiceConfig;
  pseudo: LocalPseudoParameters;
  root: string;
  onLine: (line: string) => void;
}): StreamSources {
  let stopped = false;
  const running = new Set<Promise<void>>();
  const sources = mappingsOf(options.config, options.pseudo).map((mapping) => {
    const fn = options.config.functions[mapping.functionName];
    if (!fn) throw new Error(`no function ${mapping.functionName}`);
    const invoke = invoker(options, mapping.functionName, fn);
    const pending: LocalStreamRecord[] = [];
    let draining = false;
    const drain = async () => {
      draining = true;
      let retries = 0;
      while (!stopped && pending.length > 0) {
        const batch = pending.slice(0, mapping.batchSize);
        let firstFailed = -1;
        try {
          const response = (await invoke({ Records: batch })) as
            | { batchItemFailures?: Array<{ itemIdentifier?: unknown }> }
            | undefined;
          if (mapping.reportsItemFailures && response?.batchItemFailures?.length) {
            const positions = response.batchItemFailures.map((f) =>
              batch.findIndex((r) => r.dynamodb.SequenceNumber === f.itemIdentifier),
            );
            firstFailed = positions.some((p) => p < 0) ? 0 : Math.min(...positions);
          }
        } catch (error) {
          options.onLine(`stream of ${mapping.table} → ${mapping.functionName}: the batch failed: ${(error as Error).message}`);
          firstFailed = 0;
        }
        if (firstFailed < 0) {
          pending.splice(0, batch.length);
          retries = 0;
          continue;
        }
        // Checkpoint before the first failure; retry from it.
        pending.splice(0, firstFailed);
        retries++;
        if (mapping.maximumRetryAttempts >= 0 && retries > mapping.maximumRetryAttempts) {
          options.onLine(
            `stream of ${mapping.table} → ${mapping.functionName}: retries exhausted, ${batch.length - firstFailed} records dropped`,
          );
          pending.splice(0, batch.length - firstFailed);
          retries = 0;
          continue;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** retries, 5000)));
      }
      draining = false;
    };
    return {
      table: mapping.table,
      push(records: LocalStreamRecord[]) {
        pending.push(...records);
        if (!draining) {
          const run = drain().catch((error) => options.onLine(`stream source stopped: ${(error as Error).stack}`));
          running.add(run);
          void run.finally(() => running.delete(run));
        }
      },
    };
  });
  return {
    deliver(table, records) {
      for (const source of sources) if (source.table === table) source.push(records);
    },
    close: async () => {
      stopped = true;
      await Promise.race([Promise.all(running), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    },
  };
}
