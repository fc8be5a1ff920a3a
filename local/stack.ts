import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { utils } from 'ssh2';
import { type TableNames, tableNamesFromEnv } from '../core/adapters/config';
import { DynamoPrincipalDirectory } from '../core/adapters/dynamodb/principal-directory';
import { LocalFileSecretStore } from '../core/adapters/secrets/local-file-store';
import { LOCAL_ACCOUNT_ID, type LocalPseudoParameters, resolveEnvironment } from './cfn-values';
import { startChildService } from './child-service';
import { type LocalDynamo, startDynamo } from './dynamodb';
import type { RegionProcessOptions, RegionRole } from './region-process';
import { type LocalBucket, type LocalS3, startS3 } from './s3';
import { loadServiceConfig, PROJECT_ROOT, type RegionFile, type ServiceConfig } from './service-config';
import { type EmbeddedSftpServer, generateEd25519KeyPair, generateHostKey, startSftpServer } from './sftp-server';
import type { LocalPrincipal } from './sigv4';
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
}

/** Each demo customer has an AWS account of its own (the engine's is LOCAL_ACCOUNT_ID), owning its buckets. */
const DEMO_CUSTOMERS = [
  { customerId: 'customer-a', user: 'alice', account: '111111111111' },
  { customerId: 'customer-b', user: 'bob', account: '222222222222' },
];
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

  const [west, east] = await Promise.all([loadServiceConfig('west', stage), loadServiceConfig('east', stage)]);
  const configs = { west, east };
  const regions: LocalStackInfo['regions'] = {};
  for (const [file, config] of Object.entries(configs) as Array<[RegionFile, ServiceConfig]>) {
    const pseudo: LocalPseudoParameters = { region: REGIONS[file], accountId: LOCAL_ACCOUNT_ID, partition: 'aws-us-gov' };
    const environment = resolveEnvironment(config.provider.environment, pseudo, config.resources.Resources);
    regions[REGIONS[file]] = { stagingBucket: environment.STAGING_BUCKET ?? '', environment };
  }

  const started: Array<{ close(): Promise<void> }> = [];
  try {
    const dynamo: LocalDynamo = await startDynamo(options.ports?.dynamodb);
    started.push(dynamo);
    // Global tables: one set of tables serves both regions, as replicas would.
    await createTables(dynamo.endpoint, tableDefinitions(west.resources.Resources));

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
      new DynamoDBClient({ endpoint: dynamo.endpoint, region: REGIONS.west, credentials: LOCAL_CREDENTIALS }),
      tableNamesFromEnv(regions[REGIONS.west]?.environment).principals,
    );
    for (const customer of customers) await principals.register(customer.principalArn, customer.customerId);

    const logLines: string[] = [];
    const apis: Record<string, string> = {};
    const stepFunctions: Record<string, string> = {};
    const functionEnvironment = (region: string): Record<string, string> => ({
      ...regions[region]?.environment,
      ...awsEnvironment(region, dynamo.endpoint, s3.endpoint),
      EFT_LOCAL_SECRETS_DIR: join(stateDir, 'secrets'),
      // The local partner servers listen on loopback, which the SSRF guard refuses by default.
      EFT_ALLOWED_NETWORKS: '127.0.0.0/8',
      ...options.functionEnvironment,
    });
    // Each region is two processes, as API Gateway/Lambda and Step Functions are two services:
    // its Step Functions endpoint (running the state machine's Lambda tasks), then its REST API,
    // whose StartExecution calls go to the former. Same function environment, same handler modules.
    const startRegionProcess = <Ready>(
      role: RegionRole,
      regionFile: RegionFile,
      region: string,
      environment: Record<string, string>,
    ) =>
      startChildService<Ready>(
        join(__dirname, 'region-process.ts'),
        { regionFile, region, stage, environment, principals: customers } satisfies RegionProcessOptions,
        {
          args: [role],
          execArgv: ['--import', 'tsx', ...(options.regionNodeArgs ?? [])],
          onLine: (line) => {
            logLines.push(line);
            if (options.echoLogs) process.stderr.write(`[${region}] ${line}\n`);
          },
        },
      );
    for (const [regionFile, region] of Object.entries(REGIONS) as Array<[RegionFile, string]>) {
      const sfn = await startRegionProcess<{ stepFunctions: string }>(
        'step-functions',
        regionFile,
        region,
        functionEnvironment(region),
      );
      started.push(sfn);
      stepFunctions[region] = sfn.ready.stepFunctions;
      const api = await startRegionProcess<{ api: string }>('api', regionFile, region, {
        ...functionEnvironment(region),
        AWS_ENDPOINT_URL_SFN: sfn.ready.stepFunctions,
      });
      started.push(api);
      apis[region] = api.ready.api;
    }

    const info: LocalStackInfo = {
      stage,
      dynamodb: { endpoint: dynamo.endpoint },
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
      customers,
    };
    await writeFile(join(stateDir, 'local.json'), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
    return {
      info,
      configs,
      s3,
      logs: () => [...logLines],
      dynamoRequests: () => dynamo.requestCounts(),
      close: () => closeAll(started),
    };
  } catch (error) {
    await closeAll(started);
    throw error;
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
