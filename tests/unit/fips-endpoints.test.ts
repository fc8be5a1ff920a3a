/**
 * FIPS endpoints (README "FIPS endpoints"): with AWS_USE_FIPS_ENDPOINT=true
 * every AWS SDK client the engine builds sends its requests to the region's
 * FIPS endpoint. The endpoint is resolved by the SDK itself, for a real
 * operation, and the request is stopped before it leaves the process (no
 * network). A client built anywhere without awsClientConfig, or by a factory
 * missing from this file, fails the last tests.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import ts from 'typescript';
import { awsClientConfig } from '../../core/adapters/aws-client-config';
import { createDynamoClient } from '../../core/adapters/dynamodb/client';
import { createEventBridgeClient } from '../../core/adapters/eventbridge';
import { createS3Client, regionalS3Clients } from '../../core/adapters/s3/client';
import { createSecretsManagerClient } from '../../core/adapters/secrets/secrets-manager';
import { createSqsClient } from '../../core/adapters/sqs/client';
import { createSfnClient } from '../../core/adapters/step-functions';

const ROOT = resolve(__dirname, '..', '..');
const REGIONS = ['us-gov-west-1', 'us-gov-east-1'] as const;
type Region = (typeof REGIONS)[number];
const PEER: Record<Region, Region> = { 'us-gov-west-1': 'us-gov-east-1', 'us-gov-east-1': 'us-gov-west-1' };
// Static keys keep the SDK's credential chain (and its instance-metadata lookups) out of the test.
const KEYS = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };
const fipsEnv = (region: Region) => ({ AWS_REGION: region, AWS_USE_FIPS_ENDPOINT: 'true', ...KEYS });

/** What the tests need of any SDK v3 client. */
interface SdkClient {
  config: { useFipsEndpoint(): Promise<boolean> };
  middlewareStack: { add(middleware: unknown, options: { step: 'build'; name: string }): void };
  send(command: unknown): Promise<unknown>;
}

class Stopped {
  constructor(readonly url: string) {}
}

/** The URL the SDK would send `command` to: resolved by its endpoint rules, stopped before signing and sending. */
async function requestUrl(client: SdkClient, command: unknown): Promise<string> {
  client.middlewareStack.add(
    () => async (args: { request: { protocol: string; hostname: string; port?: number } }) => {
      const { protocol, hostname, port } = args.request;
      throw new Stopped(`${protocol}//${hostname}${port ? `:${port}` : ''}`);
    },
    { step: 'build', name: 'stopBeforeSending' },
  );
  try {
    await client.send(command);
  } catch (error) {
    if (error instanceof Stopped) return error.url;
    throw error;
  }
  throw new Error('the request was not stopped');
}

const OWNER = '123456789012';
const s3Head = new HeadObjectCommand({ Bucket: 'eft-staging', Key: 'k', ExpectedBucketOwner: OWNER });
const sfnDescribe = new DescribeExecutionCommand({
  executionArn: 'arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:m:e',
});

/**
 * Every client factory of core/adapters, its file, an operation, and the FIPS
 * endpoint AWS documents for it in the region. DynamoDB in both GovCloud
 * regions and Step Functions in us-gov-west-1 have no "-fips" host: their one
 * regional endpoint is FIPS 140 validated, and the SDK's rules resolve FIPS to
 * it, so for them useFipsEndpoint() is the proof.
 */
const FACTORIES: Array<{
  name: string;
  file: string;
  build(env: NodeJS.ProcessEnv, region: Region): unknown;
  /** An operation, or one per region (an SQS request goes to the host of its queue URL, the queue's region). */
  command: unknown | ((region: Region) => unknown);
  fipsUrl(region: Region): string;
}> = [
  {
    name: 'DynamoDB (createDynamoClient)',
    file: 'core/adapters/dynamodb/client.ts',
    build: (env) => createDynamoClient(env),
    command: new GetItemCommand({ TableName: 't', Key: { pk: { S: 'x' } } }),
    fipsUrl: (region) => `https://dynamodb.${region}.amazonaws.com`,
  },
  {
    name: 'S3 (createS3Client)',
    file: 'core/adapters/s3/client.ts',
    build: (env) => createS3Client(env),
    command: s3Head,
    fipsUrl: (region) => `https://eft-staging.s3-fips.${region}.amazonaws.com`,
  },
  {
    name: 'S3 of another region (regionalS3Clients)',
    file: 'core/adapters/s3/client.ts',
    build: (env, region) => regionalS3Clients(env)(PEER[region]),
    command: s3Head,
    fipsUrl: (region) => `https://eft-staging.s3-fips.${PEER[region]}.amazonaws.com`,
  },
  {
    name: 'EventBridge (createEventBridgeClient)',
    file: 'core/adapters/eventbridge.ts',
    build: (env) => createEventBridgeClient(env),
    command: new PutEventsCommand({ Entries: [] }),
    // EventBridge in GovCloud has no events-fips host: its one endpoint is the FIPS one (the SDK's rules say so).
    fipsUrl: (region) => `https://events.${region}.amazonaws.com`,
  },
  {
    name: 'Step Functions (createSfnClient)',
    file: 'core/adapters/step-functions.ts',
    build: (env) => createSfnClient(env),
    command: sfnDescribe,
    fipsUrl: (region) =>
      region === 'us-gov-west-1' ? 'https://states.us-gov-west-1.amazonaws.com' : `https://states-fips.${region}.amazonaws.com`,
  },
  {
    name: 'Secrets Manager (createSecretsManagerClient)',
    file: 'core/adapters/secrets/secrets-manager.ts',
    build: (env) => createSecretsManagerClient(env),
    command: new GetSecretValueCommand({ SecretId: 's' }),
    fipsUrl: (region) => `https://secretsmanager-fips.${region}.amazonaws.com`,
  },
  {
    name: 'Secrets Manager of the peer region (replicas)',
    file: 'core/adapters/secrets/secrets-manager.ts',
    build: (env, region) => createSecretsManagerClient(env, PEER[region]),
    command: new GetSecretValueCommand({ SecretId: 's' }),
    fipsUrl: (region) => `https://secretsmanager-fips.${PEER[region]}.amazonaws.com`,
  },
  {
    // SQS sends to the host of the queue URL (a queue's Ref: https://sqs.<region>.amazonaws.com/...);
    // GovCloud has no "-fips" SQS host: that regional endpoint is the FIPS 140 validated one.
    name: 'SQS (createSqsClient)',
    file: 'core/adapters/sqs/client.ts',
    build: (env) => createSqsClient(env),
    command: (region: Region) =>
      new GetQueueAttributesCommand({ QueueUrl: `https://sqs.${region}.amazonaws.com/123456789012/eft-dev-schedule-polls` }),
    fipsUrl: (region) => `https://sqs.${region}.amazonaws.com`,
  },
];

describe('FIPS endpoints of every AWS SDK client', () => {
  describe.each(REGIONS)('in %s with AWS_USE_FIPS_ENDPOINT=true', (region) => {
    test.each(FACTORIES)('$name sends to the FIPS endpoint', async ({ build, command, fipsUrl }) => {
      const client = build(fipsEnv(region), region) as SdkClient;

      const operation = typeof command === 'function' ? command(region) : command;
      const [fips, url] = await Promise.all([client.config.useFipsEndpoint(), requestUrl(client, operation)]);

      expect(fips).toBe(true);
      expect(url).toBe(fipsUrl(region));
    });
  });

  test('without AWS_USE_FIPS_ENDPOINT the same clients resolve the standard endpoints (the flag is what changes them)', async () => {
    const env = { AWS_REGION: 'us-gov-east-1', ...KEYS };

    const urls = await Promise.all([
      requestUrl(createS3Client(env) as unknown as SdkClient, s3Head),
      requestUrl(createSfnClient(env) as unknown as SdkClient, sfnDescribe),
      requestUrl(createSecretsManagerClient(env) as unknown as SdkClient, new GetSecretValueCommand({ SecretId: 's' })),
    ]);

    expect(urls).toEqual([
      'https://eft-staging.s3.us-gov-east-1.amazonaws.com',
      'https://states.us-gov-east-1.amazonaws.com',
      'https://secretsmanager.us-gov-east-1.amazonaws.com',
    ]);
  });

  test('an explicit endpoint (the local stand-ins) wins over AWS_USE_FIPS_ENDPOINT=true: no FIPS host is used', async () => {
    const env = { ...fipsEnv('us-gov-west-1'), AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569', EFT_S3_FORCE_PATH_STYLE: 'true' };
    const client = createS3Client(env) as unknown as SdkClient;

    const [fips, url] = await Promise.all([client.config.useFipsEndpoint(), requestUrl(client, s3Head)]);

    expect(fips).toBe(false);
    expect(url).toBe('http://127.0.0.1:4569');
  });

  test('the process environment cannot turn FIPS on behind the engine’s back: the setting is always explicit', () => {
    expect(awsClientConfig('S3', { AWS_REGION: 'us-gov-west-1' })).toMatchObject({ useFipsEndpoint: false });
  });

  test.each(['TRUE', '1', 'yes'])('AWS_USE_FIPS_ENDPOINT=%s is refused rather than read as false', (value) => {
    expect(() => awsClientConfig('SFN', { AWS_REGION: 'us-gov-west-1', AWS_USE_FIPS_ENDPOINT: value })).toThrow(
      /AWS_USE_FIPS_ENDPOINT must be "true" or "false"/,
    );
  });
});

/** Every `new XClient(...)` of a class imported from an @aws-sdk/client-* package, outside tests. */
function sdkClientConstructions(): Array<{ file: string; client: string; viaAwsClientConfig: boolean }> {
  const files = ['core', 'functions', 'fargate-worker'].flatMap((folder) =>
    readdirSync(join(ROOT, folder), { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
      .map((entry) => join(entry.parentPath, entry.name)),
  );
  return files.flatMap((path) => {
    const file = relative(ROOT, path).split(sep).join('/');
    const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
    const sdkNames = new Set<string>();
    for (const statement of source.statements) {
      if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
      if (!statement.moduleSpecifier.text.startsWith('@aws-sdk/client-')) continue;
      const bindings = statement.importClause?.namedBindings;
      if (!bindings || !ts.isNamedImports(bindings)) continue;
      for (const { name } of bindings.elements) if (name.text.endsWith('Client')) sdkNames.add(name.text);
    }
    const found: Array<{ file: string; client: string; viaAwsClientConfig: boolean }> = [];
    const callsAwsClientConfig = (node: ts.Node): boolean =>
      (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'awsClientConfig') ||
      (ts.forEachChild(node, (child) => callsAwsClientConfig(child) || undefined) ?? false);
    const visit = (node: ts.Node): void => {
      if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && sdkNames.has(node.expression.text)) {
        const config = node.arguments?.[0];
        found.push({
          file,
          client: node.expression.text,
          viaAwsClientConfig: config !== undefined && callsAwsClientConfig(config),
        });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
  });
}

describe('no AWS SDK client escapes the FIPS setting', () => {
  const constructions = sdkClientConstructions();

  test('the scan finds the engine’s clients (it is not vacuous)', () => {
    expect(new Set(constructions.map(({ client }) => client))).toEqual(
      new Set(['DynamoDBClient', 'EventBridgeClient', 'S3Client', 'SFNClient', 'SecretsManagerClient', 'SQSClient']),
    );
  });

  test('every SDK client in core/, functions/ and fargate-worker/ is built with awsClientConfig', () => {
    expect(constructions.filter(({ viaAwsClientConfig }) => !viaAwsClientConfig)).toEqual([]);
  });

  test('every file that builds an SDK client has its factory checked above', () => {
    const checked = new Set(FACTORIES.map(({ file }) => file));
    expect(constructions.map(({ file }) => file).filter((file) => !checked.has(file))).toEqual([]);
  });
});
