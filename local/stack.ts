import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { utils } from 'ssh2';
import { type TableNames, tableNamesFromEnv } from '../core/adapters/config';
import { DynamoPrincipalDirectory } from '../core/adapters/dynamodb/principal-directory';
import { LocalFileSecretStore } from '../core/adapters/secrets/local-file-store';
import { LOCAL_ACCOUNT_ID, type LocalPseudoParameters, resolveEnvironment, resolveValue } from './cfn-values';
import { type ChildService, startChildService } from './child-service';
import { type LocalDynamo, startDynamo } from './dynamodb';
import { type DynamoReplication, startDynamoReplication } from './dynamodb-replication';
import type { LocalStreamRecord, StreamOptions } from './dynamodb-streams';
import { type KillOptions, type KillReport, RegionControl, type RegionEndpoints, type RegionLauncher } from './region-control';
import type { EventsProcessMessage, RegionProcessOptions, RegionRole } from './region-process';
import { type LocalBucket, type LocalS3, startS3 } from './s3';
import { objectCreatedEvent } from './s3-notifications';
import { loadServiceConfig, PROJECT_ROOT, type RegionFile, type ServiceConfig } from './service-config';
import { type EmbeddedSftpServer, generateEd25519KeyPair, generateHostKey, startSftpServer } from './sftp-server';
import type { LocalPrincipal } from './sigv4';
import { replicateStagingBuckets } from './staging-replication';
import { streamedTables } from './stream-sources';
import { createTables, LOCAL_CREDENTIALS, tableDefinitions } from './tables';

export const REGIONS: Record<RegionFile, string> = { west: 'us-gov-west-1', east: 'us-gov-east-1' };

/** What the local runtime tells scripts and tests (written to .eft/local.json). */
export interface LocalStackInfo {
  stage: string;
  dynamodb: { endpoint: string };
  s3: { endpoint: string };
  credentials: typeof LOCAL_CREDENTIALS;
  tables: TableNames;
  /** A partner's SFTP server, embedded. */
  partnerSftp: {
    host: string;
    port: number;
    username: string;
    password: string;
    privateKeyPath: string;
    hostKeyFingerprint: string;
    root: string;
  };
  /** Per region: the environment its functions and workers get, and its staging bucket. */
  regions: Record<string, { stagingBucket: string; environment: Record<string, string> }>;
  /** Buckets that stand in for customers' own S3 endpoints, with the account that owns each. */
  customerBuckets: LocalBucket[];
  /** Each region's REST API base URL (SigV4, service execute-api, that region). */
  apis: Record<string, string>;
  /** Each region's local Step Functions endpoint (StartExecution, DescribeExecution). */
  stepFunctions: Record<string, string>;
  /** Each region's local SQS endpoint (AWS JSON protocol), serving the queues of the resources by name. */
  sqs: Record<string, string>;
  /** Each region's local EventBridge endpoint (PutEvents), with the buses and rules of the resources. */
  eventBridge: Record<string, string>;
  /** Demo customers and the AWS credentials their requests are signed with. */
  customers: Array<{ customerId: string } & LocalPrincipal>;
}

export interface LocalStack {
  info: LocalStackInfo;
  configs: Record<RegionFile, ServiceConfig>;
  s3: LocalS3;
  /** Every line the local functions printed (their CloudWatch logs, locally). */
  logs(): string[];
  /** DynamoDB requests served so far, by operation and table (see LocalDynamo.requestCounts). */
  dynamoRequests(): Record<string, number>;
  /**
   * Kills a region's processes (default: api, step-functions, events and the workers; see
   * region-control.ts for what a region's death means locally). The failover drill's fault.
   */
  killRegion(region: string, signal: NodeJS.Signals, options?: KillOptions): Promise<KillReport>;
  /** Starts again whatever of the region is not running, on the same ports (else info and local.json follow). */
  restartRegion(region: string): Promise<RegionEndpoints>;
  /** Pids of the workers a region runs now. */
  workerPids(region: string): Promise<number[]>;
  /** With dynamoReplication: the replication between the regions' replicas. */
  replication?: DynamoReplication;
  close(): Promise<void>;
}

export interface LocalStackOptions {
  /** Where data, keys and local.json go. Default: .eft in the project. */
  stateDir?: string;
  stage?: string;
  ports?: { dynamodb?: number; s3?: number; sftp?: number };
  /** Echo the functions' log lines to this process's stderr. */
  echoLogs?: boolean;
  /** Extra environment for every local function and worker (tests: small multipart sizes, short retries). */
  functionEnvironment?: Record<string, string>;
  /** Extra Node flags for the region processes (diagnostics, e.g. --cpu-prof; the bench's --cpu-prof sets it). */
  regionNodeArgs?: string[];
  /**
   * Every `schedule` event ticks this often instead of its declared rate, and the functions get
   * SCHEDULE_MIN_RATE_SECONDS = this (walkthrough and tests: 1). Default: EFT_LOCAL_SCHEDULE_TICK_SECONDS, else the rates.
   */
  scheduleTickSeconds?: number;
  /** Multiplies every queue's visibility timeout (tests: small, so failed messages come back soon). Default 1. */
  visibilityScale?: number;
  /** Tests only: amends the printed service config (fixture functions, queues, rules) before anything starts. */
  amendConfig?: (config: ServiceConfig, region: RegionFile) => ServiceConfig;
  /** How long after an object is staged in one region its replica is in the other's staging bucket (local/staging-replication.ts). Default 200. */
  stagingReplicationLagMs?: number;
  /**
   * Each region gets a DynamoDB replica of its own, replicated to the other after `lagMs` with
   * last-writer-wins (dynamodb-replication.ts), as global tables do. Default: one DynamoDB for both.
   */
  dynamoReplication?: { lagMs: number };
}

/** Each demo customer has an AWS account of its own (the engine's is LOCAL_ACCOUNT_ID), owning its buckets. */
const DEMO_CUSTOMERS = [
  { customerId: 'customer-a', user: 'alice', account: '111111111111' },
  { customerId: 'customer-b', user: 'bob', account: '222222222222' },
];
/** The demo customers' buckets are in us-gov-west-1 (as their endpoints say); their events come from there. */
const CUSTOMER_BUCKET_REGION = 'us-gov-west-1';
/** The engine's bus for customers' S3 events (resources/routes.yml): customers' rules forward "Object Created" there. */
const INGEST_BUS_RESOURCE = 'IngestEventBus';
const CUSTOMER_BUCKETS: LocalBucket[] = [
  { name: 'customer-a-outbox', owner: '111111111111' },
  { name: 'customer-a-inbox', owner: '111111111111' },
  { name: 'customer-b-inbox', owner: '222222222222' },
];

/** A key or password kept across runs, so pinned fingerprints and saved credentials stay valid. */
async function persistent(path: string, make: () => string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    const value = make();
    await writeFile(path, value, { mode: 0o600 });
    return value;
  }
}

/**
 * Starts the engine's AWS stand-ins on loopback: dynalite with the tables of
 * resources/, s3rver with each region's staging bucket and demo customer
 * buckets, and an embedded SFTP server standing in for a partner.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const stateDir = options.stateDir ?? join(PROJECT_ROOT, '.eft');
  const stage = options.stage ?? 'local';
  const keysDir = join(stateDir, 'keys');
  const sftpRoot = join(stateDir, 'data', 'sftp');
  await Promise.all([mkdir(keysDir, { recursive: true }), mkdir(sftpRoot, { recursive: true })]);

  const amend = options.amendConfig ?? ((config: ServiceConfig) => config);
  const [west, east] = await Promise.all(
    (['west', 'east'] as const).map(async (file) => amend(await loadServiceConfig(file, stage), file)),
  );
  if (!west || !east) throw new Error('no service config');
  const configs = { west, east };
  // Every process of a region runs this very config (one definition).
  const configFiles: Record<RegionFile, string> = {
    west: join(stateDir, 'config', 'west.json'),
    east: join(stateDir, 'config', 'east.json'),
  };
  await mkdir(join(stateDir, 'config'), { recursive: true });
  await Promise.all((['west', 'east'] as const).map((file) => writeFile(configFiles[file], JSON.stringify(configs[file]))));
  const tickEnv = process.env.EFT_LOCAL_SCHEDULE_TICK_SECONDS;
  const scheduleTickSeconds = options.scheduleTickSeconds ?? (tickEnv ? Number(tickEnv) : undefined);
  const regions: LocalStackInfo['regions'] = {};
  for (const [file, config] of Object.entries(configs) as Array<[RegionFile, ServiceConfig]>) {
    const pseudo: LocalPseudoParameters = { region: REGIONS[file], accountId: LOCAL_ACCOUNT_ID, partition: 'aws-us-gov' };
    const environment = resolveEnvironment(config.provider.environment, pseudo, config.resources.Resources);
    regions[REGIONS[file]] = { stagingBucket: environment.STAGING_BUCKET ?? '', environment };
  }

  const started: Array<{ close(): Promise<void> }> = [];
  const logLines: string[] = [];
  const eventsProcesses: RegionEvents[] = [];
  // The tables functions read the streams of (publishJobEvents: jobs), as dynamodb-streams.ts makes them:
  // with one DynamoDB for both regions, its records go to both regions' events processes (each region's
  // stream of a global table carries every write); with a replica per region, each replica's to its region.
  const streams = (region: string, to: string[]): StreamOptions => ({
    tables: streamKeys(west, tableDefinitions(west.resources.Resources)),
    region,
    onRecord: (table, record) => forwardStreamRecord(eventsProcesses, to, table, record, (line) => logLines.push(line)),
  });
  try {
    const dynamo: LocalDynamo = await startDynamo({
      port: options.ports?.dynamodb,
      directory: join(stateDir, 'data', 'dynamodb'),
      streams: streams(REGIONS.west, options.dynamoReplication ? [REGIONS.west] : Object.values(REGIONS)),
    });
    started.push(dynamo);
    // Global tables: one set of tables serves both regions, as replicas would.
    await createTables(dynamo.endpoint, tableDefinitions(west.resources.Resources));
    const replication = await startReplicas(
      options,
      dynamo,
      tableDefinitions(west.resources.Resources),
      join(stateDir, 'data', 'dynamodb-east'),
      started,
      streams(REGIONS.east, [REGIONS.east]),
    );
    const dynamoEndpoint = (region: string) => replication?.endpoints[region] ?? dynamo.endpoint;

    const s3 = await startS3({
      directory: join(stateDir, 'data', 's3'),
      buckets: [...Object.values(regions).map((r) => r.stagingBucket), ...CUSTOMER_BUCKETS],
      port: options.ports?.s3,
    });
    started.push(s3);

    const partnerKey = await persistent(join(keysDir, 'partner_ed25519'), () => generateEd25519KeyPair().private);
    const partnerPassword = await persistent(join(keysDir, 'partner.password'), () => randomBytes(18).toString('base64url'));
    // ECDSA: the engine's default SSH security policy (FIPS-2024) refuses ed25519 host keys.
    const hostKey = await persistent(join(keysDir, 'sftp_host_ecdsa'), generateHostKey);
    const publicKey = publicKeyLine(partnerKey);
    const sftp: EmbeddedSftpServer = await startSftpServer({
      root: sftpRoot,
      port: options.ports?.sftp,
      hostKey,
      users: [{ username: 'partner', password: partnerPassword, publicKey }],
    });
    started.push(sftp);

    // The key that authenticates list cursors, as the west stack's secret (replicated to east) is in
    // AWS: both regions read the one secrets directory. Created on the first start and kept, so a
    // cursor stays good across restarts.
    const cursorKeyName = regions[REGIONS.west]?.environment.CURSOR_KEY_SECRET_ID;
    if (!cursorKeyName) throw new Error('serverless.yml gives the functions no CURSOR_KEY_SECRET_ID');
    await new LocalFileSecretStore(join(stateDir, 'secrets')).ensureText(cursorKeyName, () =>
      randomBytes(48).toString('base64url'),
    );

    const customers = await demoCustomers(keysDir);
    const principals = new DynamoPrincipalDirectory(
      new DynamoDBClient({ endpoint: dynamoEndpoint(REGIONS.west), region: REGIONS.west, credentials: LOCAL_CREDENTIALS }),
      tableNamesFromEnv(regions[REGIONS.west]?.environment).principals,
    );
    for (const customer of customers) await principals.register(customer.principalArn, customer.customerId);

    const apis: Record<string, string> = {};
    const stepFunctions: Record<string, string> = {};
    const sqs: Record<string, string> = {};
    const eventBridge: Record<string, string> = {};
    const functionEnvironment = (region: string): Record<string, string> => ({
      ...regions[region]?.environment,
      ...awsEnvironment(region, dynamoEndpoint(region), s3.endpoint),
      ...(sqs[region] ? { AWS_ENDPOINT_URL_SQS: sqs[region] } : {}),
      ...(eventBridge[region] ? { AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge[region] } : {}),
      EFT_LOCAL_SECRETS_DIR: join(stateDir, 'secrets'),
      // The local partner servers listen on loopback, which the SSRF guard refuses by default.
      EFT_ALLOWED_NETWORKS: '127.0.0.0/8',
      // Webhooks to the walkthrough's receiver on loopback, which serves plain http:// (never set in AWS: HTTPS only).
      EFT_WEBHOOK_ALLOW_HTTP: 'true',
      // Local schedules may run as often as the tick.
      ...(scheduleTickSeconds !== undefined ? { SCHEDULE_MIN_RATE_SECONDS: String(scheduleTickSeconds) } : {}),
      ...options.functionEnvironment,
    });
    // Each region is three processes, as SQS/EventBridge (with Lambda's event sources), Step Functions
    // and API Gateway/Lambda are three services: its events process (SQS and EventBridge endpoints
    // first, whose URLs every function gets), its Step Functions endpoint (running the state
    // machine's Lambda tasks), then the events process's sqs and schedule event sources (their
    // functions start executions), then its REST API, whose StartExecution calls go to the
    // Step Functions process. Same function environment, same handler modules.
    const startRegionProcess = <Ready>(
      role: RegionRole,
      regionFile: RegionFile,
      region: string,
      environment: Record<string, string>,
      ports: RegionProcessOptions['ports'] = {},
    ) =>
      startChildService<Ready>(
        join(__dirname, 'region-process.ts'),
        {
          regionFile,
          region,
          stage,
          configFile: configFiles[regionFile],
          environment,
          principals: customers,
          ports,
        } satisfies RegionProcessOptions,
        {
          args: [role],
          execArgv: ['--import', 'tsx', ...(options.regionNodeArgs ?? [])],
          onLine: (line) => {
            logLines.push(line);
            if (options.echoLogs) process.stderr.write(`[${region}] ${line}\n`);
          },
        },
      );
    let info: LocalStackInfo | undefined;
    const control = regionControl({
      launch: (role, regionFile, environment, ports) =>
        startRegionProcess(role, regionFile, REGIONS[regionFile], environment, ports),
      functionEnvironment,
      eventsEnvironment: {
        EFT_LOCAL_VISIBILITY_SCALE: String(options.visibilityScale ?? 1),
        ...(scheduleTickSeconds !== undefined ? { EFT_LOCAL_SCHEDULE_TICK_SECONDS: String(scheduleTickSeconds) } : {}),
      },
      endpoints: { sqs, eventBridge, stepFunctions, apis },
      eventsProcesses,
      ingestBus: (regionFile) => ingestBusName(configs[regionFile], REGIONS[regionFile]),
      // A region restarted on other ports: scripts reading .eft/local.json find it there.
      restarted: () => info && writeFile(join(stateDir, 'local.json'), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 }),
    });
    started.push(control);
    for (const [regionFile, region] of Object.entries(REGIONS) as Array<[RegionFile, string]>) {
      await control.start(region, regionFile);
    }
    forwardCustomerS3Events(s3, eventsProcesses, (line) => logLines.push(line));
    // Cross-region replication of the staging buckets (resources/buckets.yml).
    started.push(
      replicateStagingBuckets(s3, {
        endpoint: s3.endpoint,
        buckets: Object.values(regions).map((r) => r.stagingBucket),
        lagMs: options.stagingReplicationLagMs ?? 200,
        log: (line) => logLines.push(line),
      }),
    );

    info = {
      stage,
      dynamodb: { endpoint: dynamoEndpoint(REGIONS.west) },
      s3: { endpoint: s3.endpoint },
      credentials: LOCAL_CREDENTIALS,
      tables: tableNamesFromEnv(regions[REGIONS.west]?.environment),
      partnerSftp: {
        host: sftp.host,
        port: sftp.port,
        username: 'partner',
        password: partnerPassword,
        privateKeyPath: join(keysDir, 'partner_ed25519'),
        hostKeyFingerprint: sftp.hostKeyFingerprint,
        root: sftpRoot,
      },
      regions: Object.fromEntries(
        Object.keys(regions).map((region) => [
          region,
          { stagingBucket: regions[region]?.stagingBucket ?? '', environment: functionEnvironment(region) },
        ]),
      ),
      customerBuckets: CUSTOMER_BUCKETS,
      apis,
      stepFunctions,
      sqs,
      eventBridge,
      customers,
    };
    await writeFile(join(stateDir, 'local.json'), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
    return {
      info,
      configs,
      s3,
      logs: () => [...logLines],
      dynamoRequests: () => dynamo.requestCounts(),
      killRegion: (region, signal, killOptions) => control.killRegion(region, signal, killOptions),
      restartRegion: (region) => control.restartRegion(region),
      workerPids: (region) => control.workerPids(region),
      ...(replication ? { replication } : {}),
      close: () => closeAll(started),
    };
  } catch (error) {
    await closeAll(started);
    throw error;
  }
}

/** The name of the engine's ingest bus in this region's resources, if they declare it. */
function ingestBusName(config: ServiceConfig, region: string): string | undefined {
  const bus = config.resources.Resources[INGEST_BUS_RESOURCE];
  if (bus?.Type !== 'AWS::Events::EventBus') return undefined;
  return resolveValue(
    bus.Properties?.Name,
    { region, accountId: LOCAL_ACCOUNT_ID, partition: 'aws-us-gov' },
    config.resources.Resources,
  );
}

/**
 * The customers' side of routes, locally: each customer bucket has EventBridge notifications
 * on, and a rule on the customer's default bus forwarding "Object Created" to the engine's
 * ingest bus in each region. So every object created in a customer bucket (not in the
 * engine's staging buckets) becomes S3's "Object Created" event, with the bucket owner's
 * account, on both regions' ingest buses.
 */
function forwardCustomerS3Events(s3: LocalS3, regions: RegionEvents[], log: (line: string) => void): void {
  const buckets = new Map(CUSTOMER_BUCKETS.map((bucket) => [bucket.name, bucket]));
  const targets = regions.filter((region) => region.ingestBus !== undefined);
  if (targets.length === 0) log(`the resources declare no ${INGEST_BUS_RESOURCE}: customers' S3 events go nowhere`);
  s3.onEvent((record) => {
    const bucket = buckets.get(record.s3.bucket.name);
    const event = bucket && objectCreatedEvent(record, bucket, CUSTOMER_BUCKET_REGION);
    if (!event) return;
    for (const { service, ingestBus } of targets) {
      if (service.child.connected) {
        // A region killed this instant (region-control.ts) loses the event, as a dead region would.
        service.child.send({ type: 'deliver', busName: ingestBus as string, event } satisfies EventsProcessMessage, (error) => {
          if (error) log(`an S3 event for ${ingestBus} was lost: ${error.message}`);
        });
      }
    }
  });
}

/** The streamed tables' key attribute names (the tables some function's `stream` event reads). */
function streamKeys(config: ServiceConfig, tables: ReturnType<typeof tableDefinitions>): Record<string, string[]> {
  const pseudo = { region: REGIONS.west, accountId: LOCAL_ACCOUNT_ID, partition: 'aws-us-gov' } as const;
  const streamed = new Set(streamedTables(config, pseudo));
  return Object.fromEntries(
    tables
      .filter((t) => streamed.has(t.TableName ?? ''))
      .map((t) => [t.TableName as string, (t.KeySchema ?? []).map((k) => k.AttributeName as string)]),
  );
}

/** A stream record to the events processes of `regions` (a region not running loses it, as its consumer would be down). */
function forwardStreamRecord(
  processes: RegionEvents[],
  regions: string[],
  table: string,
  record: LocalStreamRecord,
  log: (line: string) => void,
): void {
  for (const region of regions) {
    const events = processes.find((e) => e.region === region);
    if (!events?.service.child.connected) {
      log(`a stream record of ${table} for ${region} was lost: its events process is not running`);
      continue;
    }
    events.service.child.send({ type: 'stream', table, records: [record] } satisfies EventsProcessMessage, (error) => {
      if (error) log(`a stream record of ${table} for ${region} was lost: ${error.message}`);
    });
  }
}

/** What the AWS SDK in a function reads to reach the local stand-ins instead of AWS. */
function awsEnvironment(region: string, dynamoEndpoint: string, s3Endpoint: string): Record<string, string> {
  return {
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    // serverless.yml turns FIPS endpoints on; the stand-ins have none (an explicit endpoint wins anyway).
    AWS_USE_FIPS_ENDPOINT: 'false',
    // s3rver serves buckets by path, not by virtual host.
    EFT_S3_FORCE_PATH_STYLE: 'true',
  };
}

/** Demo customers with stable local access keys (kept in .eft/keys/customers.json), each in its own account. */
async function demoCustomers(keysDir: string): Promise<LocalStackInfo['customers']> {
  const saved = await persistent(join(keysDir, 'customers.json'), () =>
    JSON.stringify(
      DEMO_CUSTOMERS.map(({ customerId }) => ({
        customerId,
        accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
        secretAccessKey: randomBytes(30).toString('base64'),
      })),
    ),
  );
  const keys = JSON.parse(saved) as Array<Omit<LocalStackInfo['customers'][number], 'principalArn'>>;
  // The ARN is not kept with the keys: state written before customers had accounts of their own stays usable.
  return DEMO_CUSTOMERS.map(({ customerId, user, account }) => {
    const key = keys.find((k) => k.customerId === customerId);
    if (!key) throw new Error(`no saved keys for demo customer ${customerId}`);
    return { ...key, customerId, principalArn: `arn:aws-us-gov:iam::${account}:user/${user}` };
  });
}

function publicKeyLine(privateKey: string): string {
  const parsed = utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new Error('cannot read the local partner key');
  return `${key.type} ${key.getPublicSSH().toString('base64')} eft-local-partner`;
}

async function closeAll(started: Array<{ close(): Promise<void> }>): Promise<void> {
  // Emptied as it goes, so closing twice is harmless. In reverse order of starting, one after
  // the other: the regions stop before the emulators they call go away.
  for (const service of started.splice(0).reverse()) await service.close().catch(() => undefined);
}

// ---- Region controls and two-region DynamoDB (the failover drill's; logic in region-control.ts and
// ---- dynamodb-replication.ts). Kept apart from the rest of the stack on purpose.

/** A region's events process, which customers' S3 events are forwarded to (replaced when the region restarts). */
interface RegionEvents {
  region: string;
  service: ChildService<unknown>;
  ingestBus?: string;
}

/** The stack's regions under RegionControl: their URLs go to the info maps, and S3 events follow their events process. */
function regionControl(deps: {
  launch: RegionLauncher['launch'];
  functionEnvironment: (region: string) => Record<string, string>;
  eventsEnvironment: Record<string, string>;
  endpoints: Record<'sqs' | 'eventBridge' | 'stepFunctions' | 'apis', Record<string, string>>;
  eventsProcesses: RegionEvents[];
  ingestBus: (regionFile: RegionFile) => string | undefined;
  restarted: () => unknown;
}): RegionControl {
  const { endpoints } = deps;
  return new RegionControl({
    launch: deps.launch,
    environment: (region, events) => {
      if (events) {
        endpoints.sqs[region] = events.sqs;
        endpoints.eventBridge[region] = events.eventBridge;
      }
      return deps.functionEnvironment(region);
    },
    eventsEnvironment: deps.eventsEnvironment,
    onStarted: (region, regionFile, urls, events) => {
      const again = endpoints.apis[region] !== undefined;
      endpoints.sqs[region] = urls.sqs;
      endpoints.eventBridge[region] = urls.eventBridge;
      endpoints.stepFunctions[region] = urls.stepFunctions;
      endpoints.apis[region] = urls.api;
      const entry = deps.eventsProcesses.find((e) => e.region === region);
      if (entry) entry.service = events;
      else deps.eventsProcesses.push({ region, service: events, ingestBus: deps.ingestBus(regionFile) });
      if (again) void deps.restarted();
    },
  });
}

/**
 * With `dynamoReplication`, east gets a replica of its own (the stack's first DynamoDB is west's) with
 * the same tables, and both are replicated to each other; without it, undefined (one DynamoDB for both).
 */
async function startReplicas(
  options: LocalStackOptions,
  west: LocalDynamo,
  tables: ReturnType<typeof tableDefinitions>,
  eastDirectory: string,
  started: Array<{ close(): Promise<void> }>,
  streams: StreamOptions,
): Promise<DynamoReplication | undefined> {
  if (!options.dynamoReplication) return undefined;
  // Kept across restarts like west's (writes still on their way to the peer at a stop are lost, as a
  // region's unreplicated writes are when it fails).
  const east = await startDynamo({ directory: eastDirectory, streams });
  started.push(east);
  await createTables(east.endpoint, tables);
  const replication = await startDynamoReplication({
    replicas: [
      { region: REGIONS.west, endpoint: west.endpoint },
      { region: REGIONS.east, endpoint: east.endpoint },
    ],
    tables,
    lagMs: options.dynamoReplication.lagMs,
  });
  started.push(replication);
  return replication;
}
