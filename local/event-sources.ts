import { randomUUID } from 'node:crypto';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID, type LocalPseudoParameters, resolveValue } from './cfn-values';
import { checkPattern, matchesPattern } from './event-patterns';
import { eventTime } from './eventbridge';
import { loadHandler } from './handlers';
import type { ServiceConfig } from './service-config';
import type { LocalSqs } from './sqs';
import type { LocalQueue, ReceivedMessage } from './sqs-queue';

type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/** What a handler's ReportBatchItemFailures answer looks like. */
interface BatchResponse {
  batchItemFailures?: Array<{ itemIdentifier?: unknown }>;
}

/** Lambda keeps a long poll open this long (SQS's maximum) while a queue is empty. */
const LONG_POLL_MS = 20_000;

export interface EventSourcesOptions {
  config: ServiceConfig;
  pseudo: LocalPseudoParameters;
  sqs: LocalSqs;
  root: string;
  /** Every schedule ticks this often instead of its declared rate (EFT_LOCAL_SCHEDULE_TICK_SECONDS). */
  scheduleTickSeconds?: number;
  /** Where the event sources report what goes wrong (handlers' own output goes to the process's stdout/stderr). */
  onLine: (line: string) => void;
}

/**
 * The `sqs` and `schedule` events of the service's functions, run as Lambda
 * runs them: SQS event source mappings (pollers that invoke the function with
 * batches and delete what succeeded) and EventBridge rate schedules (a
 * Scheduled Event every period). The handlers are the deployed modules,
 * loaded in this process; their failures are Lambda's: a throw fails the whole
 * batch, ReportBatchItemFailures the items it names, and SQS redelivers them
 * after the visibility timeout (and moves them to the DLQ by its redrive policy).
 */
export function startEventSources(options: EventSourcesOptions): { close(): Promise<void> } {
  const { config, pseudo } = options;
  const stopping = new AbortController();
  const running: Array<Promise<void>> = [];
  const keep = (loop: Promise<void>) =>
    running.push(loop.catch((error) => options.onLine(`event source stopped: ${(error as Error).stack}`)));
  for (const [functionName, fn] of Object.entries(config.functions)) {
    const invoke = invoker(options, functionName, fn);
    (fn.events ?? []).forEach((event, index) => {
      if (event.sqs !== undefined) {
        const mapping = sqsMapping(event.sqs, options);
        if (!mapping) return;
        for (let i = 0; i < mapping.concurrency; i++) keep(pollQueue(mapping, invoke, options, stopping.signal));
      }
      if (event.schedule !== undefined) {
        for (const schedule of schedulesOf(event.schedule, functionName)) {
          const ruleArn = `arn:${pseudo.partition}:events:${pseudo.region}:${LOCAL_ACCOUNT_ID}:rule/${config.service}-${config.provider.stage}-${functionName}-schedule-${index + 1}`;
          const periodSeconds = options.scheduleTickSeconds ?? schedule.periodSeconds;
          keep(tick(periodSeconds, ruleArn, schedule.input, invoke, options, stopping.signal));
        }
      }
    });
  }
  return {
    /** Stops polling and ticking; waits a little for running handlers (Lambda, stopping, would not wait at all). */
    close: async () => {
      stopping.abort();
      await Promise.race([Promise.all(running), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    },
  };
}

/** Invokes a function's handler as Lambda would (the module is loaded on first use, like a cold start). */
export function invoker(
  options: Pick<EventSourcesOptions, 'config' | 'pseudo' | 'root'>,
  functionName: string,
  fn: ServiceConfig['functions'][string],
) {
  const { config, pseudo } = options;
  const deployedName = `${config.service}-${config.provider.stage}-${functionName}`;
  const timeoutSeconds = Number((fn as { timeout?: unknown }).timeout ?? (config.provider as { timeout?: unknown }).timeout ?? 6);
  let handler: LambdaHandler | undefined;
  return async (event: unknown): Promise<unknown> => {
    handler ??= loadHandler<LambdaHandler>(fn.handler, options.root);
    const deadline = Date.now() + timeoutSeconds * 1000;
    const context = {
      awsRequestId: randomUUID(),
      functionName: deployedName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:${pseudo.partition}:lambda:${pseudo.region}:${LOCAL_ACCOUNT_ID}:function:${deployedName}`,
      memoryLimitInMB: String((fn as { memorySize?: unknown }).memorySize ?? 1024),
      logGroupName: `/aws/lambda/${deployedName}`,
      logStreamName: 'local',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    } as unknown as Context;
    return handler(event, context);
  };
}

interface SqsMapping {
  queue: LocalQueue;
  queueArn: string;
  batchSize: number;
  windowMs: number;
  reportsItemFailures: boolean;
  filters: unknown[];
  concurrency: number;
}

/** A function's `sqs` event as osls reads it: the ARN alone, or {arn, batchSize, maximumBatchingWindow, …}. */
function sqsMapping(spec: unknown, options: EventSourcesOptions): SqsMapping | undefined {
  const { config, pseudo, sqs } = options;
  const settings = (typeof spec === 'object' && spec !== null && !('Fn::GetAtt' in spec) ? spec : { arn: spec }) as Record<
    string,
    unknown
  >;
  if (settings.enabled === false) return undefined;
  const queueArn = resolveValue(settings.arn, pseudo, config.resources.Resources);
  const queue = sqs.queueByArn(queueArn);
  if (!queue) throw new Error(`an sqs event reads ${queueArn}, which is not a queue of the resources`);
  const filters = ((settings.filterPatterns as unknown[] | undefined) ?? []).map((pattern, i) => {
    checkPattern(pattern, `filterPatterns[${i}] of the sqs event on ${queue.name}`);
    return pattern;
  });
  const responseTypes = settings.functionResponseType;
  return {
    queue,
    queueArn,
    batchSize: Number(settings.batchSize ?? 10),
    windowMs: Number(settings.maximumBatchingWindow ?? 0) * 1000,
    reportsItemFailures:
      responseTypes === 'ReportBatchItemFailures' ||
      (Array.isArray(responseTypes) && responseTypes.includes('ReportBatchItemFailures')),
    filters,
    // Lambda polls with several pollers (at least 2 batches at once, up to maximumConcurrency).
    concurrency: Math.max(1, Math.min(5, Number(settings.maximumConcurrency ?? 5))),
  };
}

/** A received message as Lambda hands it to a function. */
function lambdaRecord(message: ReceivedMessage, mapping: SqsMapping, region: string): SQSRecord {
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: message.attributes as unknown as SQSRecord['attributes'],
    messageAttributes: Object.fromEntries(
      Object.entries(message.messageAttributes).map(([name, value]) => [
        name,
        {
          ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
          ...(value.BinaryValue !== undefined ? { binaryValue: value.BinaryValue } : {}),
          stringListValues: [],
          binaryListValues: [],
          dataType: value.DataType,
        },
      ]),
    ),
    md5OfBody: message.md5OfBody,
    ...(message.md5OfMessageAttributes ? { md5OfMessageAttributes: message.md5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: mapping.queueArn,
    awsRegion: region,
  };
}

/** Lambda's event filtering: a record passes if any pattern matches it (its body as JSON when it is JSON). */
function passesFilters(record: SQSRecord, filters: unknown[]): boolean {
  if (filters.length === 0) return true;
  let body: unknown = record.body;
  try {
    body = JSON.parse(record.body);
  } catch {
    // a plain-text body is matched as text
  }
  return filters.some((pattern) => matchesPattern(pattern, { ...record, body }));
}

/** One poller of an event source mapping: receive a batch, invoke, delete what succeeded; until stopped. */
async function pollQueue(
  mapping: SqsMapping,
  invoke: (event: unknown) => Promise<unknown>,
  options: EventSourcesOptions,
  stop: AbortSignal,
): Promise<void> {
  const { queue } = mapping;
  while (!stop.aborted) {
    const batch = await queue.receive({ max: Math.min(10, mapping.batchSize), waitMs: LONG_POLL_MS, signal: stop });
    if (batch.length === 0) continue;
    // The batching window: keep gathering until the batch is full or the window has passed.
    const windowEnds = Date.now() + mapping.windowMs;
    while (!stop.aborted && batch.length < mapping.batchSize && Date.now() < windowEnds) {
      const more = await queue.receive({
        max: Math.min(10, mapping.batchSize - batch.length),
        waitMs: windowEnds - Date.now(),
        signal: stop,
      });
      batch.push(...more);
    }
    const records = batch.map((message) => lambdaRecord(message, mapping, options.pseudo.region));
    const passing = records.filter((record) => passesFilters(record, mapping.filters));
    // Lambda deletes what its filters drop.
    for (const record of records) if (!passing.includes(record)) queue.delete(record.receiptHandle);
    if (passing.length === 0) continue;
    let failed: Set<string>;
    try {
      const response = (await invoke({ Records: passing } satisfies SQSEvent)) as BatchResponse | undefined;
      failed = mapping.reportsItemFailures ? itemFailures(response, passing) : new Set();
    } catch (error) {
      options.onLine(
        `sqs event source ${queue.name}: the function failed, the batch of ${passing.length} will be retried: ${(error as Error).stack}`,
      );
      failed = new Set(passing.map((record) => record.messageId));
    }
    for (const record of passing) if (!failed.has(record.messageId)) queue.delete(record.receiptHandle);
  }
}

/** The messages a ReportBatchItemFailures response fails; an identifier that is not in the batch fails it all, as in Lambda. */
function itemFailures(response: BatchResponse | undefined, records: SQSRecord[]): Set<string> {
  const ids = new Set(records.map((record) => record.messageId));
  const failures = response?.batchItemFailures ?? [];
  const named = failures.map((failure) => failure?.itemIdentifier);
  if (named.some((id) => typeof id !== 'string' || !ids.has(id))) return ids;
  return new Set(named as string[]);
}

const RATE = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/;
const UNIT_SECONDS: Record<string, number> = { minute: 60, minutes: 60, hour: 3600, hours: 3600, day: 86_400, days: 86_400 };

/** A function's `schedule` event as osls reads it: `rate(…)`, or {rate: string | string[], enabled, input}. */
function schedulesOf(spec: unknown, functionName: string): Array<{ periodSeconds: number; input?: unknown }> {
  const settings = (typeof spec === 'string' ? { rate: spec } : spec) as { rate?: unknown; enabled?: unknown; input?: unknown };
  if (settings.enabled === false) return [];
  const rates = Array.isArray(settings.rate) ? settings.rate : [settings.rate];
  return rates.map((rate) => {
    const match = RATE.exec(String(rate).trim());
    if (!match) {
      throw new Error(
        `${functionName}'s schedule ${JSON.stringify(rate)}: the local runtime runs rate(…) schedules only (cron is not emulated)`,
      );
    }
    return {
      periodSeconds: Number(match[1]) * (UNIT_SECONDS[match[2] ?? ''] ?? 60),
      ...(settings.input !== undefined
        ? { input: typeof settings.input === 'string' ? JSON.parse(settings.input) : settings.input }
        : {}),
    };
  });
}

/** Waits `ms`, or less if stopped. */
function pause(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop.addEventListener('abort', done);
  });
}

/**
 * A rate schedule: every period, the function gets EventBridge's Scheduled
 * Event (or the schedule's input). Invocations do not overlap: a tick that
 * would start while the previous one still runs is skipped.
 */
async function tick(
  periodSeconds: number,
  ruleArn: string,
  input: unknown,
  invoke: (event: unknown) => Promise<unknown>,
  options: EventSourcesOptions,
  stop: AbortSignal,
): Promise<void> {
  const periodMs = periodSeconds * 1000;
  let next = Date.now() + periodMs;
  while (!stop.aborted) {
    await pause(next - Date.now(), stop);
    if (stop.aborted) return;
    const now = new Date();
    const event = input ?? {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: LOCAL_ACCOUNT_ID,
      time: eventTime(now),
      region: options.pseudo.region,
      resources: [ruleArn],
      detail: {},
    };
    try {
      await invoke(event);
    } catch (error) {
      options.onLine(`schedule ${ruleArn}: the function failed: ${(error as Error).stack}`);
    }
    next += periodMs;
    // Ticks missed while the function ran are skipped.
    while (next <= Date.now()) next += periodMs;
  }
}
