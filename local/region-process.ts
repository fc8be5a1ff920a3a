/**
 * One service of one region of the local engine, in its own process (like that
 * region's Lambda containers): the region's function environment is this
 * process's environment before any handler module is loaded. The role, the
 * process's only argument (so `ps` tells the processes apart), is one of
 * - `events`: the region's SQS and EventBridge endpoints (queues, buses and
 *   rules of the resources) and the functions' `sqs` and `schedule` events,
 *   which run their handlers in this process. It prints {"sqs","eventBridge"}
 *   once its endpoints listen; the event sources start when the stack sends
 *   {"type":"start","environment"} over IPC (with the Step Functions endpoint,
 *   started in between, since the step-functions process needs the SQS
 *   endpoint first), answered {"type":"started"}. The stack also sends it
 *   {"type":"deliver","busName","event"}: an event forwarded onto a bus as it
 *   is (customers' S3 events, see s3-notifications.ts);
 * - `step-functions`: the region's Step Functions endpoint, which runs the
 *   state machine's Lambda tasks in this process; it prints {"stepFunctions"}
 *   once listening; or
 * - `api`: the region's REST API (API Gateway and the API handlers), whose
 *   StartExecution calls go to the step-functions process (AWS_ENDPOINT_URL_SFN
 *   in its environment); it prints {"api"} once listening.
 * As in AWS, where API Gateway/Lambda, SQS/EventBridge and Step Functions are
 * separate services, executions and event-driven functions do not share the
 * API's event loop, so the API's latency is the API's. All load the same
 * handler modules. Started by stack.ts, with the service config it read (one
 * definition for every process of the stack).
 */
import './esm-only-packages';
import { readFile } from 'node:fs/promises';
import { startApiGateway } from './api-gateway';
import { LOCAL_ACCOUNT_ID, type LocalPseudoParameters } from './cfn-values';
import type { LocalStreamRecord } from './dynamodb-streams';
import { startEventSources } from './event-sources';
import { type EventBridgeEvent, eventBusesOfResources, startEventBridge } from './eventbridge';
import { loadServiceConfig, PROJECT_ROOT, type RegionFile, type ServiceConfig } from './service-config';
import type { LocalPrincipal } from './sigv4';
import { queuesOfResources, startSqs } from './sqs';
import { startStepFunctions } from './step-functions';
import { type StreamSources, startStreamSources } from './stream-sources';

export type RegionRole = 'api' | 'step-functions' | 'events';

export interface RegionProcessOptions {
  regionFile: RegionFile;
  region: string;
  stage: string;
  /** The printed service config the stack runs (JSON); without it, this process prints it itself. */
  configFile?: string;
  environment: Record<string, string>;
  principals: LocalPrincipal[];
  /** Ports to listen on (a region restarted by region-control.ts keeps its addresses); default: any free port. */
  ports?: { sqs?: number; eventBridge?: number; stepFunctions?: number; api?: number };
}

/** What the stack and the events process say to each other over IPC. */
export type EventsProcessMessage =
  | { type: 'start'; environment: Record<string, string> }
  | { type: 'started' }
  | { type: 'deliver'; busName: string; event: EventBridgeEvent }
  /** Records of a table's stream (local/dynamodb-streams.ts) for the functions reading it (stream-sources.ts). */
  | { type: 'stream'; table: string; records: LocalStreamRecord[] };

type Service = { url?: string; close(): Promise<void> };

const print = (line: string) => process.stdout.write(`${line}\n`);

async function startEvents(config: ServiceConfig, options: RegionProcessOptions): Promise<Service> {
  const pseudo: LocalPseudoParameters = { region: options.region, accountId: LOCAL_ACCOUNT_ID, partition: 'aws-us-gov' };
  const resources = config.resources.Resources;
  const visibilityScale = Number(process.env.EFT_LOCAL_VISIBILITY_SCALE ?? 1);
  const tick = process.env.EFT_LOCAL_SCHEDULE_TICK_SECONDS;
  const sqs = await startSqs({
    queues: queuesOfResources(resources, pseudo),
    region: options.region,
    visibilityScale,
    port: options.ports?.sqs,
  });
  const { buses, rules } = eventBusesOfResources(resources, pseudo);
  const accounts = Object.fromEntries(
    options.principals.map((p) => [p.accessKeyId, p.principalArn.split(':')[4] ?? LOCAL_ACCOUNT_ID]),
  );
  const eventBridge = await startEventBridge({
    buses,
    rules,
    region: options.region,
    sqs,
    accounts,
    port: options.ports?.eventBridge,
  });
  // The functions run here reach this process's endpoints.
  process.env.AWS_ENDPOINT_URL_SQS = sqs.url;
  process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = eventBridge.url;
  let sources: { close(): Promise<void> } | undefined;
  let streams: StreamSources | undefined;
  // Stream records that came before the event sources started (their functions need 'start''s environment).
  const early: Array<{ table: string; records: LocalStreamRecord[] }> = [];
  process.on('message', (message: EventsProcessMessage) => {
    if (message.type === 'deliver') {
      eventBridge.deliver(message.busName, message.event);
    } else if (message.type === 'stream') {
      if (streams) streams.deliver(message.table, message.records);
      else early.push(message);
    } else if (message.type === 'start' && !sources) {
      Object.assign(process.env, message.environment);
      sources = startEventSources({
        config,
        pseudo,
        sqs,
        root: PROJECT_ROOT,
        scheduleTickSeconds: tick ? Number(tick) : undefined,
        onLine: (line) => process.stderr.write(`${line}\n`),
      });
      streams = startStreamSources({ config, pseudo, root: PROJECT_ROOT, onLine: (line) => process.stderr.write(`${line}\n`) });
      for (const { table, records } of early.splice(0)) streams.deliver(table, records);
      process.send?.({ type: 'started' } satisfies EventsProcessMessage);
    }
  });
  print(JSON.stringify({ sqs: sqs.url, eventBridge: eventBridge.url }));
  return {
    close: async () => {
      await sources?.close();
      await streams?.close();
      await Promise.all([sqs.close(), eventBridge.close()]);
    },
  };
}

async function main(): Promise<void> {
  const role = process.argv[2] as RegionRole;
  const options = JSON.parse(process.env.EFT_CHILD_OPTIONS ?? '{}') as RegionProcessOptions;
  delete process.env.EFT_CHILD_OPTIONS;
  Object.assign(process.env, options.environment);
  const config = options.configFile
    ? (JSON.parse(await readFile(options.configFile, 'utf8')) as ServiceConfig)
    : await loadServiceConfig(options.regionFile, options.stage);
  let service: Service;
  if (role === 'events') {
    service = await startEvents(config, options);
  } else if (role === 'step-functions') {
    const stepFunctions = await startStepFunctions({
      config,
      region: options.region,
      root: PROJECT_ROOT,
      onLine: print,
      port: options.ports?.stepFunctions,
    });
    // What this process starts reaches this endpoint too: a batch's worker reads its execution's input.
    process.env.AWS_ENDPOINT_URL_SFN = stepFunctions.url;
    print(JSON.stringify({ stepFunctions: stepFunctions.url }));
    service = stepFunctions;
  } else if (role === 'api') {
    service = await startApiGateway({
      config,
      region: options.region,
      principals: options.principals,
      root: PROJECT_ROOT,
      port: options.ports?.api,
    });
    print(JSON.stringify({ api: service.url }));
  } else {
    throw new Error(`unknown role ${role}: events, step-functions or api`);
  }
  const stop = () => void service.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

main().catch((error) => {
  process.stderr.write(`local region failed to start: ${(error as Error).stack}\n`);
  process.exit(1);
});
