/**
 * What `osls package` generates from serverless.west.yml / serverless.east.yml:
 * the CloudFormation each region stack would deploy. Both regions are packaged
 * (in parallel, offline, without AWS credentials) once for the whole file, and
 * the templates are checked for GovCloud partitions, regions, table and bucket
 * settings, the REST API (endpoints, transfers, routes and schedules, AWS_IAM on
 * every method), the event-driven functions (S3 events and schedule polls through
 * encrypted SQS queues, the schedule tick, the ingest bus), the transfer state
 * machine and its Fargate worker, and least-privilege IAM.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { isMetricName, METRIC_BREAKDOWNS, METRIC_NAMES, METRIC_NAMESPACE, METRIC_SERVICE } from '../../core/domain/metric-names';

const run = promisify(execFile);

const ROOT = resolve(__dirname, '..', '..');
const STAGE = 'citest';
const WEST = 'us-gov-west-1';
const EAST = 'us-gov-east-1';
const REGIONS = { west: { region: WEST, peer: EAST }, east: { region: EAST, peer: WEST } } as const;
type RegionKey = keyof typeof REGIONS;

const TABLE_NAMES = {
  endpoints: `eft-${STAGE}-endpoints`,
  jobs: `eft-${STAGE}-jobs`,
  leases: `eft-${STAGE}-leases`,
  audit: `eft-${STAGE}-audit`,
  principals: `eft-${STAGE}-principals`,
  triggers: `eft-${STAGE}-triggers`,
  triggerState: `eft-${STAGE}-trigger-state`,
  // Webhooks and their delivery log (resources/notifications-tables.yml).
  webhooks: `eft-${STAGE}-webhooks`,
};
/** The lease functions (functions/leases.yml): only the one the state machine calls (ReleaseLease). */
const LEASE_FUNCTIONS = {
  releaseLease: 'functions/leases/release.handler',
};
/** The endpoint-onboarding REST API (functions/endpoints.yml): one function per route. */
const ENDPOINT_FUNCTIONS = {
  createEndpoint: { handler: 'functions/endpoints/create.handler', route: 'POST /endpoints' },
  listEndpoints: { handler: 'functions/endpoints/list.handler', route: 'GET /endpoints' },
  getEndpoint: { handler: 'functions/endpoints/get.handler', route: 'GET /endpoints/{id}' },
  updateEndpoint: { handler: 'functions/endpoints/update.handler', route: 'PATCH /endpoints/{id}' },
  deleteEndpoint: { handler: 'functions/endpoints/delete.handler', route: 'DELETE /endpoints/{id}' },
  validateEndpoint: { handler: 'functions/endpoints/validate.handler', route: 'POST /endpoints/{id}/validate' },
  endpointAudit: { handler: 'functions/endpoints/audit.handler', route: 'GET /endpoints/{id}/audit' },
} as const;
type EndpointFunction = keyof typeof ENDPOINT_FUNCTIONS;
/** The transfer API (functions/transfers.yml), on the same REST API. */
const TRANSFER_FUNCTIONS = {
  createTransfers: { handler: 'functions/transfers/create.handler', route: 'POST /transfers' },
  listJobs: { handler: 'functions/jobs/list.handler', route: 'GET /jobs' },
  getJob: { handler: 'functions/jobs/get.handler', route: 'GET /jobs/{jobId}' },
  cancelJob: { handler: 'functions/jobs/cancel.handler', route: 'POST /jobs/{jobId}/cancel' },
  redriveJob: { handler: 'functions/jobs/redrive.handler', route: 'POST /jobs/{jobId}/redrive' },
} as const;
type TransferFunction = keyof typeof TRANSFER_FUNCTIONS;
/** The route and schedule API (functions/triggers-api.yml), on the same REST API. */
const TRIGGER_API_FUNCTIONS = {
  createRoute: { handler: 'functions/routes/create.handler', route: 'POST /routes' },
  listRoutes: { handler: 'functions/routes/list.handler', route: 'GET /routes' },
  getRoute: { handler: 'functions/routes/get.handler', route: 'GET /routes/{routeId}' },
  updateRoute: { handler: 'functions/routes/update.handler', route: 'PATCH /routes/{routeId}' },
  deleteRoute: { handler: 'functions/routes/delete.handler', route: 'DELETE /routes/{routeId}' },
  createSchedule: { handler: 'functions/schedules/create.handler', route: 'POST /schedules' },
  listSchedules: { handler: 'functions/schedules/list.handler', route: 'GET /schedules' },
  getSchedule: { handler: 'functions/schedules/get.handler', route: 'GET /schedules/{scheduleId}' },
  updateSchedule: { handler: 'functions/schedules/update.handler', route: 'PATCH /schedules/{scheduleId}' },
  deleteSchedule: { handler: 'functions/schedules/delete.handler', route: 'DELETE /schedules/{scheduleId}' },
} as const;
/** The egress addresses (functions/egress.yml), on the same REST API. */
const EGRESS_FUNCTIONS = {
  getEgress: { handler: 'functions/egress/get.handler', route: 'GET /egress' },
} as const;
/** The webhook API (functions/notifications.yml), on the same REST API. */
const WEBHOOK_API_FUNCTIONS = {
  createWebhook: { handler: 'functions/notifications/create-webhook.handler', route: 'POST /webhooks' },
  listWebhooks: { handler: 'functions/notifications/list-webhooks.handler', route: 'GET /webhooks' },
  deleteWebhook: { handler: 'functions/notifications/delete-webhook.handler', route: 'DELETE /webhooks/{id}' },
  webhookDeliveries: { handler: 'functions/notifications/webhook-deliveries.handler', route: 'GET /webhooks/{id}/deliveries' },
} as const;
type WebhookApiFunction = keyof typeof WEBHOOK_API_FUNCTIONS;
/** Every REST route: one function each. */
const API_FUNCTIONS = {
  ...ENDPOINT_FUNCTIONS,
  ...TRANSFER_FUNCTIONS,
  ...TRIGGER_API_FUNCTIONS,
  ...EGRESS_FUNCTIONS,
  ...WEBHOOK_API_FUNCTIONS,
};
/**
 * The functions events invoke (functions/routes.yml, functions/schedules.yml, functions/notifications.yml): route
 * ingestion drains the S3 events queue, the tick runs every minute, the poll drains the schedule polls queue, the
 * job events publisher reads this region's jobs stream, the webhook deliverer drains the deliveries queue.
 */
const EVENT_FUNCTIONS = {
  ingestS3Events: { handler: 'functions/routes/ingest.handler', queue: 'S3EventsQueue', batchSize: 10, timeout: 30 },
  tickSchedules: { handler: 'functions/schedules/tick.handler', schedule: 'rate(1 minute)', timeout: 60 },
  reconcileJobs: { handler: 'functions/reconcile/reconcile-jobs.handler', schedule: 'rate(1 minute)', timeout: 60 },
  pollSchedule: { handler: 'functions/schedules/poll.handler', queue: 'SchedulePollsQueue', batchSize: 1, timeout: 300 },
  publishJobEvents: {
    handler: 'functions/notifications/publish-job-events.handler',
    stream: 'JobsStream',
    batchSize: 100,
    timeout: 60,
  },
  deliverWebhooks: {
    handler: 'functions/notifications/deliver-webhooks.handler',
    queue: 'WebhookDeliveriesQueue',
    batchSize: 10,
    timeout: 120,
  },
} as const;
type EventFunction = keyof typeof EVENT_FUNCTIONS;
/**
 * The functions CloudFormation invokes, as the service token of a custom resource of the stack (functions/notifications.yml):
 * the jobs stream's ARN in this region (the jobs table is the west stack's global table).
 */
const CUSTOM_RESOURCE_FUNCTIONS = {
  lookupJobsStream: {
    handler: 'functions/notifications/jobs-stream-arn.handler',
    resource: 'JobsStream',
    type: 'Custom::JobsStream',
    timeout: 30,
  },
} as const;
/** Each queue of the stack and its dead-letter queue (after 5 receives). */
const QUEUES = {
  S3EventsQueue: 'S3EventsDeadLetterQueue',
  SchedulePollsQueue: 'SchedulePollsDeadLetterQueue',
  WebhookDeliveriesQueue: 'WebhookDeliveriesDeadLetterQueue',
} as const;
/** Each stream an event source mapping reads, and the queue its failed batches go to (Lambda's on-failure destination). */
const STREAM_DEAD_LETTER_QUEUES = {
  JobsStream: 'JobEventsDeadLetterQueue',
} as const;
/** Every dead-letter queue of the stack. */
const DEAD_LETTER_QUEUES = [...Object.values(QUEUES), ...Object.values(STREAM_DEAD_LETTER_QUEUES)];
/** The state machine's own tasks (functions/orchestration.yml; releaseLease is a lease function). */
const ORCHESTRATION_FUNCTIONS = {
  startTransfer: { handler: 'functions/orchestration/start.handler', timeout: 30, memory: 256 },
  copyS3Object: { handler: 'functions/orchestration/copy-s3.handler', timeout: 900, memory: 512 },
  verifyTransfer: { handler: 'functions/orchestration/verify.handler', timeout: 120, memory: 256 },
  failTransfer: { handler: 'functions/orchestration/fail.handler', timeout: 30, memory: 256 },
  startBatch: { handler: 'functions/orchestration/start-batch.handler', timeout: 30, memory: 256 },
  failBatch: { handler: 'functions/orchestration/fail-batch.handler', timeout: 300, memory: 256 },
  smallTransfer: { handler: 'functions/orchestration/small-transfer.handler', timeout: 300, memory: 1024 },
} as const;
type OrchestrationFunction = keyof typeof ORCHESTRATION_FUNCTIONS;
/** The functions the transfer state machine invokes, by its Task states. */
const STATE_MACHINE_FUNCTIONS = [
  'startTransfer',
  'copyS3Object',
  'verifyTransfer',
  'releaseLease',
  'failTransfer',
  'startBatch',
  'failBatch',
  'smallTransfer',
];
const STATE_MACHINE_NAME = `eft-${STAGE}-transfer`;
const STATE_MACHINE_ARN = `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:stateMachine:${STATE_MACHINE_NAME}`;
const WORKER_FAMILY = `eft-${STAGE}-worker`;
const SECRET_NAME_PREFIX = `eft/${STAGE}/endpoints`;
/** Webhook signing secrets (custom.webhookSecretNamePrefix): <prefix>/<customerId>/<webhookId>, outside the endpoint prefix. */
const WEBHOOK_SECRET_NAME_PREFIX = `eft/${STAGE}/webhooks`;
/** The list cursor key: the west stack's secret, replicated to east under the same name (resources/cursor-key.yml). */
const CURSOR_KEY_NAME = `eft/${STAGE}/cursor-key`;
/** The cursor key in this region (Secrets Manager appends "-" and six characters to the name). */
const CURSOR_KEY_ARN = `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${CURSOR_KEY_NAME}-??????`;
/** The functions that list, and so read the cursor key. */
const CURSOR_KEY_READERS = ['ListEndpointsRole', 'ListJobsRole', 'ListRoutesRole', 'ListSchedulesRole'];
/** The only actions an execution role may be granted on Resource '*': X-Ray has no resource-level permissions. */
const STAR_RESOURCE_ALLOWED = new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
/** Further actions on Resource '*', by role: none of them supports resource-level permissions. */
const STAR_RESOURCE_ALLOWED_FOR: Record<string, string[]> = {
  // X-Ray sampling, and the vended-log delivery Step Functions sets up for its log group.
  TransferStateMachineExecutionRole: [
    'xray:GetSamplingRules',
    'xray:GetSamplingTargets',
    'logs:CreateLogDelivery',
    'logs:GetLogDelivery',
    'logs:UpdateLogDelivery',
    'logs:DeleteLogDelivery',
    'logs:ListLogDeliveries',
    'logs:PutResourcePolicy',
    'logs:DescribeResourcePolicies',
    'logs:DescribeLogGroups',
  ],
  // The ECR registry login token.
  WorkerExecutionRole: ['ecr:GetAuthorizationToken'],
  // pollSchedule runs in the worker's VPC: Lambda manages its network interfaces with the function's role
  // (what AWSLambdaVPCAccessExecutionRole grants); these EC2 actions have no resource-level permissions.
  PollScheduleRole: [
    'ec2:CreateNetworkInterface',
    'ec2:DescribeNetworkInterfaces',
    'ec2:DescribeSubnets',
    'ec2:DeleteNetworkInterface',
    'ec2:AssignPrivateIpAddresses',
    'ec2:UnassignPrivateIpAddresses',
  ],
};
// The same EC2 actions for the other functions in the egress network (resources/vpc.yml), in one policy of their roles.
STAR_RESOURCE_ALLOWED_FOR.PartnerFacingFunctionsNetworkInterfaces = STAR_RESOURCE_ALLOWED_FOR.PollScheduleRole ?? [];
function starAllowed(roleId: string, action: string): boolean {
  return STAR_RESOURCE_ALLOWED.has(action) || (STAR_RESOURCE_ALLOWED_FOR[roleId] ?? []).includes(action);
}
/**
 * The only grants on all buckets: CUSTOMER buckets. Their names are arbitrary and they belong to the
 * customers, who grant the engine's roles in their bucket policies, so the identity policies cannot name
 * them. Every such grant excludes the buckets of the engine's own account.
 */
const NOT_THIS_ACCOUNT = JSON.stringify({ StringNotEquals: { 's3:ResourceAccount': { Ref: 'AWS::AccountId' } } });
/** `action` on every bucket (`buckets`) or every object (`objects`) but this account's. */
function customerBucket(action: string, on: 'buckets' | 'objects'): string {
  return `${action} arn:\${AWS::Partition}:s3:::${on === 'buckets' ? '*' : '*/*'} if ${NOT_THIS_ACCOUNT}`;
}
/** validateEndpoint's probe: list, write and delete one object. */
const CUSTOMER_BUCKET_GRANTS = [
  customerBucket('s3:ListBucket', 'buckets'),
  customerBucket('s3:PutObject', 'objects'),
  customerBucket('s3:DeleteObject', 'objects'),
];
/** The roles that reach customer buckets at all. */
const CUSTOMER_BUCKET_ROLES = [
  'ValidateEndpointRole',
  'CreateTransfersRole',
  'CopyS3ObjectRole',
  'VerifyTransferRole',
  'WorkerTaskRole',
  'SmallTransferRole',
];
/** Created by osls' core template; encrypted with SSE-S3, not the stack key (it must exist before the key does). */
const DEPLOYMENT_BUCKET = 'ServerlessDeploymentBucket';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON is untyped
type Json = any;
interface Resource {
  Type: string;
  Properties?: Json;
  DeletionPolicy?: string;
  DependsOn?: string | string[];
}
interface Template {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: Json }>;
}
interface Packaged {
  template: Template;
  state: Json;
  durationMs: number;
  stderr: string;
}

let workDir: string;
let fakeHome: string;
let childEnv: NodeJS.ProcessEnv;
const packaged = {} as Record<RegionKey, Packaged>;

/** The environment osls runs in: no AWS credentials or profiles, and a HOME with no ~/.aws or ~/.serverless. */
function credentialFreeEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(AWS_|SLS_|SERVERLESS_)/.test(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    HOME: home,
    USERPROFILE: home,
    // Point the SDK's config files at files that do not exist, and never ask instance metadata.
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    // serverless-esbuild leaves a <function>-<pid>-… directory per function in the
    // temp directory; inside home they go with the rest of the test's files.
    TMPDIR: home,
  };
}

/**
 * A directory that looks like the project (a symlink to each top-level entry)
 * with scratch directories of its own: osls empties and writes
 * <service dir>/.serverless (and serverless-esbuild <service dir>/.esbuild) even
 * with --package, so two packages run in the same directory at once, or next to
 * a developer's own `osls package`, would delete each other's files.
 */
function serviceDirFor(key: RegionKey): string {
  const dir = join(workDir, `${key}-service`);
  mkdirSync(dir);
  for (const entry of readdirSync(ROOT)) {
    if (entry === '.serverless' || entry === '.esbuild' || entry === '.git') continue;
    symlinkSync(join(ROOT, entry), join(dir, entry));
  }
  return dir;
}

async function packageRegion(key: RegionKey): Promise<Packaged> {
  const out = join(workDir, key);
  const cwd = serviceDirFor(key);
  const started = Date.now();
  const { stderr } = await run(
    'npx',
    ['--no', 'osls', 'package', '--config', `serverless.${key}.yml`, '--stage', STAGE, '--package', out],
    { cwd, env: childEnv, maxBuffer: 16 * 1024 * 1024 },
  ).catch((error: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(
      `osls package failed for serverless.${key}.yml:\n${error.stderr ?? ''}\n${error.stdout ?? ''}\n${error.message}`,
    );
  });
  return {
    template: JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')),
    state: JSON.parse(readFileSync(join(out, 'serverless-state.json'), 'utf8')),
    durationMs: Date.now() - started,
    stderr,
  };
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'eft-templates-'));
  fakeHome = join(workDir, 'home');
  mkdirSync(fakeHome);
  childEnv = credentialFreeEnv(fakeHome);
  const [west, east] = await Promise.all([packageRegion('west'), packageRegion('east')]);
  packaged.west = west;
  packaged.east = east;
  // 32 functions bundled per region: about 1.5 minutes each (in parallel) on a quiet machine, several
  // times that on a loaded one.
}, 600_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- helpers

function resourcesOfType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Fn::Join rendered as one string, with references written as ${Name}, so an ARN split over parts is checked whole. */
function renderJoin(join: Json): string {
  const [delimiter, parts] = join as [string, Json[]];
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      if (part && typeof part === 'object' && 'Ref' in part) return `\${${part.Ref}}`;
      if (part && typeof part === 'object' && 'Fn::GetAtt' in part) return `\${${asArray(part['Fn::GetAtt']).join('.')}}`;
      return `\${?}`;
    })
    .join(delimiter);
}

interface FoundString {
  path: string;
  value: string;
  /** True when CloudFormation substitutes ${...} in it (Fn::Sub template, Fn::Join rendering). */
  substituted: boolean;
}

/** Every string value in the template: plain strings, Fn::Sub templates, and Fn::Join results. */
function allStrings(node: Json, path = '$', out: FoundString[] = []): FoundString[] {
  if (typeof node === 'string') {
    out.push({ path, value: node, substituted: false });
  } else if (Array.isArray(node)) {
    node.forEach((item, i) => {
      allStrings(item, `${path}[${i}]`, out);
    });
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      const at = `${path}.${key}`;
      if (key === 'Fn::Sub') {
        const [template, variables] = asArray(value) as [Json, Json];
        if (typeof template === 'string') out.push({ path: at, value: template, substituted: true });
        else allStrings(template, at, out);
        if (variables) allStrings(variables, `${at}[1]`, out);
      } else if (key === 'Fn::Join' && Array.isArray(value) && Array.isArray(value[1])) {
        out.push({ path: at, value: renderJoin(value), substituted: true });
        // Still walk non-string parts (nested Fn::Sub and the like).
        value[1].forEach((part: Json, i: number) => {
          if (typeof part !== 'string') allStrings(part, `${at}[1][${i}]`, out);
        });
      } else {
        allStrings(value, at, out);
      }
    }
  }
  return out;
}

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  Resource?: Json;
  Principal?: Json;
  Condition?: Json;
}

/** Allow statements of every identity policy in the template (roles' inline policies, IAM policies). */
function identityStatements(template: Template): { where: string; statement: Statement }[] {
  const found: { where: string; statement: Statement }[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const documents: [string, Json][] = [];
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of asArray(resource.Properties?.Policies)) {
        documents.push([`${id}/${policy.PolicyName}`, policy.PolicyDocument]);
      }
    } else if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      documents.push([id, resource.Properties?.PolicyDocument]);
    }
    for (const [where, document] of documents) {
      for (const statement of asArray<Statement>(document?.Statement)) found.push({ where, statement });
    }
  }
  return found;
}

function subOf(value: Json): string | undefined {
  return value && typeof value === 'object' && typeof value['Fn::Sub'] === 'string' ? value['Fn::Sub'] : undefined;
}

/** A policy resource as a string: an Fn::Sub template as written, an Fn::GetAtt as ${Resource.Attribute}. */
function resourceText(value: Json): string {
  const sub = subOf(value);
  if (sub !== undefined) return sub;
  if (value && typeof value === 'object' && Array.isArray(value['Fn::GetAtt'])) return `\${${value['Fn::GetAtt'].join('.')}}`;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function lambdaFunctions(template: Template): [string, Resource][] {
  return resourcesOfType(template, 'AWS::Lambda::Function');
}

function functionNamed(template: Template, name: string): Resource {
  const fn = lambdaFunctions(template).find(([, r]) => r.Properties.FunctionName === `eft-${STAGE}-${name}`);
  if (!fn) throw new Error(`no Lambda function eft-${STAGE}-${name} in the template`);
  return fn[1];
}

/** What a role may do, one line per action and resource: `action resource` (and ` if <condition>` when conditioned). */
function grantsOf(roleId: string, role: Resource): string[] {
  return identityStatements({ Resources: { [roleId]: role } })
    .filter(({ statement }) => statement.Effect === 'Allow')
    .flatMap(({ statement }) =>
      asArray(statement.Action).flatMap((action) =>
        asArray<Json>(statement.Resource).map((resource) => {
          const grant = `${action} ${resourceText(resource)}`;
          return statement.Condition ? `${grant} if ${JSON.stringify(statement.Condition)}` : grant;
        }),
      ),
    )
    .sort();
}

/** "METHOD /path" of an API Gateway method, the path rebuilt from the Resource chain up to the root. */
function routeOf(template: Template, method: Resource): string {
  const parts: string[] = [];
  let parent: Json = method.Properties.ResourceId;
  while (parent && typeof parent === 'object' && 'Ref' in parent) {
    const resource = template.Resources[parent.Ref];
    if (resource?.Type !== 'AWS::ApiGateway::Resource') throw new Error(`method resource ${parent.Ref} is not an API resource`);
    parts.unshift(resource.Properties.PathPart);
    parent = resource.Properties.ParentId;
  }
  expect(parent).toEqual({ 'Fn::GetAtt': ['ApiGatewayRestApi', 'RootResourceId'] });
  return `${method.Properties.HttpMethod} /${parts.join('/')}`;
}

function roleOf(template: Template, fn: Resource): [string, Resource] {
  const role = fn.Properties.Role;
  const roleId = role?.['Fn::GetAtt']?.[0];
  if (typeof roleId !== 'string') throw new Error(`function role is not a role of this stack: ${JSON.stringify(role)}`);
  const resource = template.Resources[roleId];
  if (resource?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not an AWS::IAM::Role in the template`);
  return [roleId, resource];
}

/** This region's replica of a table, as the roles name it. */
function tableArn(name: string): string {
  return `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${name}`;
}
/** The endpoint secrets in this region. */
const ENDPOINT_SECRETS = `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${SECRET_NAME_PREFIX}/*`;
/**
 * A partner's session slots (maxConcurrency, core/adapters/dynamodb/session-slots.ts): GetItem and UpdateItem of
 * the leases table's session#<endpointId>#… items only. Every role of a function that opens SFTP sessions has them.
 */
const SESSION_SLOTS = ['GetItem', 'UpdateItem'].map(
  (a) =>
    `dynamodb:${a} ${tableArn(TABLE_NAMES.leases)} if ${JSON.stringify({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['session#*'] } })}`,
);
/** A partition's lease, taken to end a started job whose execution is gone (cancel, re-drive). */
const ORPHAN_LEASE = ['GetItem', 'UpdateItem'].map((a) => `dynamodb:${a} ${tableArn(TABLE_NAMES.leases)}`);
/** What every function role has: its own log group and X-Ray. */
function functionBasics(name: string): string[] {
  const logGroup = `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/eft-${STAGE}-${name}:*`;
  return [
    `logs:CreateLogStream ${logGroup}`,
    `logs:PutLogEvents ${logGroup}`,
    'xray:PutTelemetryRecords *',
    'xray:PutTraceSegments *',
  ];
}
/** A function's ARN, built from its name (as the state machine role names them). */
function functionArn(name: string): string {
  return `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:eft-${STAGE}-${name}`;
}

/** The state machine's definition (a DefinitionString Fn::Sub), and the intrinsics the plugin substituted into it. */
function transferDefinition(template: Template): { definition: Json; text: string; params: Record<string, Json> } {
  const machine = template.Resources.TransferStateMachine;
  if (machine?.Type !== 'AWS::StepFunctions::StateMachine') throw new Error('no TransferStateMachine in the template');
  const sub = machine.Properties.DefinitionString['Fn::Sub'];
  const [text, params] = (Array.isArray(sub) ? sub : [sub, {}]) as [string, Record<string, Json>];
  return { definition: JSON.parse(text), text, params };
}

/** A definition value, with a whole-string `${name}` replaced by the intrinsic the plugin substituted there. */
function resolvedIn(params: Record<string, Json>, value: Json): Json {
  const placeholder = typeof value === 'string' ? /^\$\{([^}]+)\}$/.exec(value) : null;
  return placeholder?.[1] && placeholder[1] in params ? params[placeholder[1]] : value;
}

// ---------------------------------------------------------------- tests

describe('osls package', () => {
  test('needs no AWS credentials, profile or user home', () => {
    // beforeAll packaged both regions with this environment: no AWS_* variable but the three that point away from any config.
    const aws = Object.keys(childEnv).filter((k) => k.startsWith('AWS_'));
    expect(aws.sort()).toEqual(['AWS_CONFIG_FILE', 'AWS_EC2_METADATA_DISABLED', 'AWS_SHARED_CREDENTIALS_FILE']);
    expect(childEnv.HOME).toBe(fakeHome);
    // Nothing was read from or written to a real ~/.aws: the temporary home has none either.
    expect(existsSync(join(fakeHome, '.aws'))).toBe(false);
    for (const key of Object.keys(REGIONS) as RegionKey[]) {
      expect(packaged[key].template.Resources).toBeDefined();
      console.info(`osls package serverless.${key}.yml took ${packaged[key].durationMs} ms`);
    }
  });

  test.each(Object.keys(REGIONS) as RegionKey[])('%s: packages the region from its own region file', (key) => {
    const { state } = packaged[key];
    expect(state.service.service).toBe('eft');
    expect(state.service.provider.region).toBe(REGIONS[key].region);
    expect(state.service.provider.stage).toBe(STAGE);
    expect(state.service.provider.runtime).toBe('nodejs24.x');
  });

  test('the east stack is the west stack without the global tables and the cursor key (one shared definition)', () => {
    // osls names the API deployment ApiGatewayDeployment<package time in ms> (a new deployment per package).
    const ids = (t: Template) =>
      Object.keys(t.Resources)
        .map((id) => id.replace(/^ApiGatewayDeployment\d+$/, 'ApiGatewayDeployment<time>'))
        .sort();
    const west = ids(packaged.west.template);
    const east = ids(packaged.east.template);
    expect(east.filter((id) => !west.includes(id))).toEqual([]);
    const westOnly = west.filter((id) => !east.includes(id));
    expect(westOnly.map((id) => packaged.west.template.Resources[id]?.Type)).toEqual(
      westOnly.map((id) => (id === 'CursorKeySecret' ? 'AWS::SecretsManager::Secret' : 'AWS::DynamoDB::GlobalTable')),
    );
    expect(westOnly.sort()).toEqual([
      'AuditTable',
      'CursorKeySecret',
      'EndpointsTable',
      'JobsTable',
      'LeasesTable',
      'PrincipalsTable',
      'TriggerStateTable',
      'TriggersTable',
      'WebhooksTable',
    ]);
  });
});

describe.each(Object.keys(REGIONS) as RegionKey[])('%s template', (key) => {
  const { region, peer } = REGIONS[key];
  const template = () => packaged[key].template;

  describe('GovCloud partition', () => {
    test('has no literal aws partition (arn:aws: or arn:aws-us-gov:)', () => {
      const text = JSON.stringify(template());
      const literal = text.match(/.{0,80}arn:aws[:-].{0,40}/g) ?? [];
      expect(literal).toEqual([]);
    });

    test('builds every ARN with the AWS::Partition pseudo parameter inside Fn::Sub or Fn::Join', () => {
      const offending = allStrings(template())
        .filter(({ value }) => /\barn:/.test(value))
        .filter(({ value, substituted }) => {
          if (!substituted) return true; // a plain string cannot substitute the partition
          return [...value.matchAll(/\barn:/g)].some((m) => !value.startsWith(`arn:\${AWS::Partition}:`, m.index));
        })
        .map(({ path, value }) => `${path}: ${value}`);
      expect(offending).toEqual([]);
    });

    test('encrypts every log group with this region’s stack key (functions, API, state machine, worker)', () => {
      const groups = resourcesOfType(template(), 'AWS::Logs::LogGroup');
      expect(groups.length).toBeGreaterThan(20);
      for (const [id, group] of groups) {
        expect({ id, key: group.Properties.KmsKeyId }).toEqual({ id, key: { 'Fn::GetAtt': ['EftKey', 'Arn'] } });
      }
    });

    test('mentions no region outside GovCloud and no other GovCloud region than the two', () => {
      const regions = new Set(JSON.stringify(template()).match(/\b[a-z]{2}(?:-gov)?-[a-z]+-\d\b/g) ?? []);
      expect([...regions].filter((r) => r !== WEST && r !== EAST)).toEqual([]);
    });
  });

  describe('region', () => {
    test(`functions run ${region} with PEER_REGION ${peer}, shared settings and the table names`, () => {
      const fns = lambdaFunctions(template());
      expect(fns.length).toBe(
        Object.keys(LEASE_FUNCTIONS).length +
          Object.keys(ENDPOINT_FUNCTIONS).length +
          Object.keys(TRANSFER_FUNCTIONS).length +
          Object.keys(TRIGGER_API_FUNCTIONS).length +
          Object.keys(EGRESS_FUNCTIONS).length +
          Object.keys(WEBHOOK_API_FUNCTIONS).length +
          Object.keys(EVENT_FUNCTIONS).length +
          Object.keys(CUSTOM_RESOURCE_FUNCTIONS).length +
          Object.keys(ORCHESTRATION_FUNCTIONS).length,
      );
      for (const [id, fn] of fns) {
        const env = fn.Properties.Environment?.Variables ?? {};
        expect({ id, peer: env.PEER_REGION }).toEqual({ id, peer });
        expect({
          id,
          ENDPOINTS_TABLE: env.ENDPOINTS_TABLE,
          JOBS_TABLE: env.JOBS_TABLE,
          LEASES_TABLE: env.LEASES_TABLE,
          AUDIT_TABLE: env.AUDIT_TABLE,
          PRINCIPALS_TABLE: env.PRINCIPALS_TABLE,
          WEBHOOKS_TABLE: env.WEBHOOKS_TABLE,
        }).toEqual({
          id,
          ENDPOINTS_TABLE: TABLE_NAMES.endpoints,
          JOBS_TABLE: TABLE_NAMES.jobs,
          LEASES_TABLE: TABLE_NAMES.leases,
          AUDIT_TABLE: TABLE_NAMES.audit,
          PRINCIPALS_TABLE: TABLE_NAMES.principals,
          WEBHOOKS_TABLE: TABLE_NAMES.webhooks,
        });
        // Powertools: every log line and metric names the service of the metric contract, in its namespace.
        expect({
          id,
          service: env.POWERTOOLS_SERVICE_NAME,
          namespace: env.POWERTOOLS_METRICS_NAMESPACE,
          level: env.POWERTOOLS_LOG_LEVEL,
        }).toEqual({ id, service: METRIC_SERVICE, namespace: METRIC_NAMESPACE, level: 'INFO' });
        // Webhooks: the deliveries queue of this stack, and signing secrets under their own prefix.
        expect({ id, queue: env.WEBHOOK_DELIVERIES_QUEUE_URL, prefix: env.WEBHOOK_SECRET_NAME_PREFIX }).toEqual({
          id,
          queue: { Ref: 'WebhookDeliveriesQueue' },
          prefix: WEBHOOK_SECRET_NAME_PREFIX,
        });
        // Endpoint secrets: names under the prefix the roles are scoped to, the stack key by its alias
        // (the same alias name in both regions, which replica creation in the peer region relies on).
        expect({ id, prefix: env.SECRET_NAME_PREFIX, key: env.SECRETS_KMS_KEY_ID }).toEqual({
          id,
          prefix: SECRET_NAME_PREFIX,
          key: `alias/eft-${STAGE}`,
        });
        // The staging bucket of THIS region stack.
        expect({ id, bucket: env.STAGING_BUCKET }).toEqual({
          id,
          bucket: { 'Fn::Sub': `eft-${STAGE}-staging-\${AWS::Region}-\${AWS::AccountId}` },
        });
        expect({ id, runtime: fn.Properties.Runtime, arch: fn.Properties.Architectures }).toEqual({
          id,
          runtime: 'nodejs24.x',
          arch: ['arm64'],
        });
        expect({ id, tracing: fn.Properties.TracingConfig }).toEqual({ id, tracing: { Mode: 'Active' } });
        // The transfer state machine's ARN, built from its name: a Ref would make the state machine
        // (which references the functions) and the functions depend on each other.
        expect({ id, stateMachine: env.TRANSFER_STATE_MACHINE_ARN }).toEqual({
          id,
          stateMachine: { 'Fn::Sub': STATE_MACHINE_ARN },
        });
      }
      expect(template().Outputs?.PeerRegion?.Value).toBe(peer);
    });

    test('deploys no function that neither a REST route, an event (queue, stream, schedule), the state machine nor a custom resource invokes', () => {
      const deployed = lambdaFunctions(template()).map(([, fn]) => fn.Properties.FunctionName);
      const invoked = [
        ...Object.keys(API_FUNCTIONS),
        ...Object.keys(EVENT_FUNCTIONS),
        ...STATE_MACHINE_FUNCTIONS,
        ...Object.keys(CUSTOM_RESOURCE_FUNCTIONS),
      ].map((name) => `eft-${STAGE}-${name}`);
      expect(deployed.sort()).toEqual(invoked.sort());
      // Each custom resource function is the service token of its custom resource (CloudFormation invokes it).
      for (const [name, { handler, resource, type, timeout }] of Object.entries(CUSTOM_RESOURCE_FUNCTIONS)) {
        const fn = functionNamed(template(), name);
        const id = lambdaFunctions(template()).find(([, f]) => f === fn)?.[0];
        expect({
          name,
          handler: fn.Properties.Handler,
          timeout: fn.Properties.Timeout,
          events: packaged[key].state.service.functions[name].events,
        }).toEqual({
          name,
          handler,
          timeout,
          events: [],
        });
        expect({
          name,
          type: template().Resources[resource]?.Type,
          token: template().Resources[resource]?.Properties.ServiceToken,
        }).toEqual({
          name,
          type,
          token: { 'Fn::GetAtt': [id, 'Arn'] },
        });
      }
    });

    test('declares the lease functions with their handlers', () => {
      for (const [name, handler] of Object.entries(LEASE_FUNCTIONS)) {
        expect({ name, handler: functionNamed(template(), name).Properties.Handler }).toEqual({ name, handler });
      }
    });

    test('functions use the leases table by name in the stack region (this region’s replica)', () => {
      for (const name of Object.keys(LEASE_FUNCTIONS)) {
        const [roleId, role] = roleOf(template(), functionNamed(template(), name));
        const dynamo = identityStatements({ Resources: { [roleId]: role } }).filter(({ statement }) =>
          asArray(statement.Action).some((a) => a.startsWith('dynamodb:')),
        );
        const resources = dynamo.flatMap(({ statement }) => asArray(statement.Resource).map(subOf));
        // ${AWS::Region} is the region the stack is deployed to, which is `region` (see serverless-state.json above).
        expect({ name, resources }).toEqual({
          name,
          resources: [`arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${TABLE_NAMES.leases}`],
        });
      }
    });

    if (key === 'west') {
      test('creates the global tables with replicas in both GovCloud regions', () => {
        const tables = resourcesOfType(template(), 'AWS::DynamoDB::GlobalTable');
        expect(tables.length).toBe(Object.keys(TABLE_NAMES).length);
        for (const [id, table] of tables) {
          const replicas = (table.Properties.Replicas as Json[]).map((r) => r.Region).sort();
          expect({ id, replicas }).toEqual({ id, replicas: [EAST, WEST] });
        }
      });
    } else {
      test('creates no tables (the west stack owns the global tables)', () => {
        const tables = Object.entries(template().Resources).filter(([, r]) => r.Type.startsWith('AWS::DynamoDB::'));
        expect(tables.map(([id]) => id)).toEqual([]);
        // The names the functions use are exactly the global tables the west stack creates.
        const westNames = resourcesOfType(packaged.west.template, 'AWS::DynamoDB::GlobalTable')
          .map(([, t]) => t.Properties.TableName)
          .sort();
        expect(westNames).toEqual(Object.values(TABLE_NAMES).sort());
      });
    }
  });

  if (key === 'west') {
    describe('DynamoDB global tables', () => {
      const expected: Record<
        string,
        {
          keys: [string, 'HASH' | 'RANGE'][];
          attributes: string[];
          indexes?: Record<string, [string, string][]>;
          projections?: Record<string, string | { ProjectionType: string; NonKeyAttributes: string[] }>;
        }
      > = {
        [TABLE_NAMES.endpoints]: {
          keys: [
            ['customerId', 'HASH'],
            ['endpointId', 'RANGE'],
          ],
          attributes: ['customerId', 'endpointId'],
        },
        [TABLE_NAMES.jobs]: {
          keys: [
            ['customerId', 'HASH'],
            ['jobId', 'RANGE'],
          ],
          attributes: ['customerId', 'jobId', 'requestKey', 'activeShard'],
          indexes: {
            byRequest: [
              ['requestKey', 'HASH'],
              ['jobId', 'RANGE'],
            ],
            // The jobs not yet ended, for the reconciler: sparse, and only what it decides on.
            byActive: [
              ['activeShard', 'HASH'],
              ['jobId', 'RANGE'],
            ],
          },
          projections: { byActive: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['partitionId', 'status'] } },
        },
        [TABLE_NAMES.leases]: { keys: [['partitionId', 'HASH']], attributes: ['partitionId'] },
        [TABLE_NAMES.audit]: {
          keys: [
            ['subject', 'HASH'],
            ['eventId', 'RANGE'],
          ],
          attributes: ['subject', 'eventId'],
        },
        [TABLE_NAMES.principals]: {
          keys: [['principalArn', 'HASH']],
          attributes: ['principalArn', 'customerId'],
          indexes: {
            byCustomer: [
              ['customerId', 'HASH'],
              ['principalArn', 'RANGE'],
            ],
          },
          projections: { byCustomer: 'KEYS_ONLY' },
        },
        [TABLE_NAMES.triggers]: {
          keys: [
            ['customerId', 'HASH'],
            ['triggerId', 'RANGE'],
          ],
          attributes: ['customerId', 'triggerId', 'sourceBucket', 'dueShard', 'nextRunAt'],
          indexes: {
            bySourceBucket: [['sourceBucket', 'HASH']],
            byDue: [
              ['dueShard', 'HASH'],
              ['nextRunAt', 'RANGE'],
            ],
          },
          projections: { bySourceBucket: 'ALL', byDue: 'ALL' },
        },
        [TABLE_NAMES.triggerState]: {
          keys: [
            ['pk', 'HASH'],
            ['sk', 'RANGE'],
          ],
          attributes: ['pk', 'sk'],
        },
        // A customer's webhooks (webhook#<id>) and their delivery log (delivery#<webhookId>#<deliveryId>).
        [TABLE_NAMES.webhooks]: {
          keys: [
            ['customerId', 'HASH'],
            ['itemId', 'RANGE'],
          ],
          attributes: ['customerId', 'itemId'],
        },
      };
      const tableByName = (name: string) => {
        const found = resourcesOfType(template(), 'AWS::DynamoDB::GlobalTable').find(([, t]) => t.Properties.TableName === name);
        if (!found) throw new Error(`no global table named ${name}`);
        return found[1];
      };

      test.each(Object.keys(expected))('%s has exactly the key schema the code uses', (name) => {
        const table = tableByName(name);
        const want = expected[name];
        if (!want) throw new Error(`unexpected table ${name}`);
        const keys = (table.Properties.KeySchema as Json[]).map((k) => [k.AttributeName, k.KeyType]);
        expect(keys).toEqual(want.keys);
        const attributes = (table.Properties.AttributeDefinitions as Json[])
          .map((a) => `${a.AttributeName}:${a.AttributeType}`)
          .sort();
        expect(attributes).toEqual(want.attributes.map((a) => `${a}:S`).sort());
        const indexes = Object.fromEntries(
          asArray<Json>(table.Properties.GlobalSecondaryIndexes).map((index) => {
            const projection = want.projections?.[index.IndexName] ?? 'ALL';
            expect({ index: index.IndexName, projection: index.Projection }).toEqual({
              index: index.IndexName,
              projection: typeof projection === 'string' ? { ProjectionType: projection } : projection,
            });
            return [index.IndexName, (index.KeySchema as Json[]).map((k) => [k.AttributeName, k.KeyType])];
          }),
        );
        expect(indexes).toEqual(want.indexes ?? {});
        expect(asArray(table.Properties.LocalSecondaryIndexes)).toEqual([]);
      });

      test.each(Object.keys(expected))(
        '%s: on-demand, KMS encryption (each replica its region’s stack key), streams, PITR and deletion protection',
        (name) => {
          const table = tableByName(name);
          expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
          expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true, SSEType: 'KMS' });
          expect(table.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
          expect(table.DeletionPolicy).toBe('Retain');
          for (const replica of table.Properties.Replicas as Json[]) {
            expect({
              region: replica.Region,
              pitr: replica.PointInTimeRecoverySpecification,
              deletionProtection: replica.DeletionProtectionEnabled,
              key: replica.SSESpecification,
            }).toEqual({
              region: replica.Region,
              pitr: { PointInTimeRecoveryEnabled: true },
              deletionProtection: true,
              // This region's key by reference; the peer region's (created by the peer stack) by its alias there.
              key: {
                KMSMasterKeyId: replica.Region === region ? { 'Fn::GetAtt': ['EftKey', 'Arn'] } : `alias/eft-${STAGE}`,
              },
            });
          }
        },
      );
    });
  }

  describe('REST API: endpoints and transfers (AWS_IAM)', () => {
    const methods = () => resourcesOfType(template(), 'AWS::ApiGateway::Method');

    test('one REGIONAL REST API named eft-<stage> (GovCloud has no edge-optimized endpoints)', () => {
      const apis = resourcesOfType(template(), 'AWS::ApiGateway::RestApi');
      expect(apis.map(([id]) => id)).toEqual(['ApiGatewayRestApi']);
      const api = apis[0]?.[1].Properties;
      expect(api.Name).toBe(`eft-${STAGE}`);
      expect(api.EndpointConfiguration).toEqual({ Types: ['REGIONAL'] });
      expect(api.MinimumCompressionSize).toBe(1024);
      // HTTP APIs (ApiGatewayV2) would not support AWS_IAM per method the same way; none is declared.
      expect(Object.values(template().Resources).filter((r) => r.Type.startsWith('AWS::ApiGatewayV2::'))).toEqual([]);
    });

    test('every method requires AWS_IAM (SigV4) authorization: no open method, no other authorizer, no API key', () => {
      expect(methods().length).toBe(27);
      expect(methods().length).toBe(Object.keys(API_FUNCTIONS).length);
      for (const [id, method] of methods()) {
        expect({ id, auth: method.Properties.AuthorizationType, authorizer: method.Properties.AuthorizerId }).toEqual({
          id,
          auth: 'AWS_IAM',
          authorizer: undefined,
        });
        expect({ id, apiKey: method.Properties.ApiKeyRequired }).toEqual({ id, apiKey: false });
      }
      expect(resourcesOfType(template(), 'AWS::ApiGateway::Authorizer')).toEqual([]);
    });

    test('routes: exactly the twenty-seven, each a Lambda proxy integration of its own function', () => {
      const routes = Object.fromEntries(
        methods().map(([, method]) => {
          const integration = method.Properties.Integration;
          expect(integration.Type).toBe('AWS_PROXY');
          const target = (integration.Uri['Fn::Join'][1] as Json[]).find((part) => part?.['Fn::GetAtt'])?.['Fn::GetAtt'][0];
          const fn = template().Resources[target];
          expect(fn?.Type).toBe('AWS::Lambda::Function');
          return [routeOf(template(), method), fn?.Properties.FunctionName];
        }),
      );
      expect(routes).toEqual(
        Object.fromEntries(Object.entries(API_FUNCTIONS).map(([name, { route }]) => [route, `eft-${STAGE}-${name}`])),
      );
    });

    test('declares the endpoint functions with their handlers; validateEndpoint (SFTP probes) gets 30 s', () => {
      for (const [name, { handler }] of Object.entries(ENDPOINT_FUNCTIONS)) {
        const fn = functionNamed(template(), name);
        expect({ name, handler: fn.Properties.Handler }).toEqual({ name, handler });
        expect({ name, timeout: fn.Properties.Timeout }).toEqual({ name, timeout: name === 'validateEndpoint' ? 30 : 10 });
      }
    });

    test('declares the transfer functions with their handlers; createTransfers (source listing, fan-out) gets 29 s and a vCPU', () => {
      for (const [name, { handler }] of Object.entries(TRANSFER_FUNCTIONS)) {
        const fn = functionNamed(template(), name);
        expect({ name, handler: fn.Properties.Handler }).toEqual({ name, handler });
        const fanOut = name === 'createTransfers';
        expect({ name, timeout: fn.Properties.Timeout, memory: fn.Properties.MemorySize }).toEqual({
          name,
          timeout: fanOut ? 29 : 10,
          memory: fanOut ? 1769 : 256,
        });
      }
    });

    test('API Gateway may invoke each API function from this API only', () => {
      const all = resourcesOfType(template(), 'AWS::Lambda::Permission');
      // The other permissions: EventBridge invokes the tick and the reconciler from their schedule rules (see "event sources").
      expect(all.filter(([, p]) => p.Properties.Principal !== 'apigateway.amazonaws.com').map(([id]) => id)).toEqual([
        'TickSchedulesLambdaPermissionEventsRuleSchedule1',
        'ReconcileJobsLambdaPermissionEventsRuleSchedule1',
      ]);
      const permissions = all.filter(([, p]) => p.Properties.Principal === 'apigateway.amazonaws.com');
      expect(permissions.length).toBe(Object.keys(API_FUNCTIONS).length);
      for (const [id, permission] of permissions) {
        const p = permission.Properties;
        expect({ id, principal: p.Principal, action: p.Action }).toEqual({
          id,
          principal: 'apigateway.amazonaws.com',
          action: 'lambda:InvokeFunction',
        });
        expect({ id, source: renderJoin(p.SourceArn['Fn::Join']) }).toEqual({
          id,
          source: `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${ApiGatewayRestApi}/*/*`,
        });
      }
    });

    test('access and execution logs (no bodies), X-Ray, and no account-wide CloudWatch role custom resource', () => {
      // osls applies stage logging and tracing with the API Gateway SDK after the deployment, from these settings.
      const { provider } = packaged[key].state.service;
      expect(provider.tracing.apiGateway).toBe(true);
      const logs = provider.logs.restApi;
      expect({
        access: logs.accessLogging,
        execution: logs.executionLogging,
        fullExecutionData: logs.fullExecutionData,
        roleManagedExternally: logs.roleManagedExternally,
      }).toEqual({ access: true, execution: true, fullExecutionData: false, roleManagedExternally: true });
      const format = JSON.parse(logs.format);
      expect(format.requestId).toBe('$context.requestId');
      expect(format.userArn).toBe('$context.identity.userArn');
      // The access log group is the stack's own.
      expect(template().Resources.ApiGatewayLogGroup?.Properties).toEqual({
        LogGroupName: `/aws/api-gateway/eft-${STAGE}`,
        RetentionInDays: 365,
        KmsKeyId: { 'Fn::GetAtt': ['EftKey', 'Arn'] },
      });
      // Without roleManagedExternally osls would add a custom resource (a Lambda function whose role may
      // iam:CreateRole/AttachRolePolicy/PassRole on role/*) to set the account's API Gateway logging role.
      // The only custom resources are the stack's own (CUSTOM_RESOURCE_FUNCTIONS).
      expect(
        Object.entries(template().Resources)
          .filter(([, r]) => r.Type.startsWith('Custom::'))
          .map(([id, r]) => [id, r.Type]),
      ).toEqual(Object.values(CUSTOM_RESOURCE_FUNCTIONS).map(({ resource, type }) => [resource, type]));
    });
  });

  describe('S3 buckets', () => {
    const buckets = () => resourcesOfType(template(), 'AWS::S3::Bucket');
    const stackKeyIds = () => resourcesOfType(template(), 'AWS::KMS::Key').map(([id]) => id);

    test('there is exactly one staging bucket, named per stage, region and account', () => {
      const staging = buckets().filter(([id]) => id !== DEPLOYMENT_BUCKET);
      expect(staging.map(([id]) => id)).toEqual(['StagingBucket']);
      expect(staging[0]?.[1].Properties.BucketName).toEqual({
        'Fn::Sub': `eft-${STAGE}-staging-\${AWS::Region}-\${AWS::AccountId}`,
      });
    });

    test('every bucket is versioned, fully private and encrypted', () => {
      for (const [id, bucket] of buckets()) {
        const p = bucket.Properties;
        expect({ id, versioning: p.VersioningConfiguration }).toEqual({ id, versioning: { Status: 'Enabled' } });
        expect({ id, block: p.PublicAccessBlockConfiguration }).toEqual({
          id,
          block: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        });
        const rules = p.BucketEncryption?.ServerSideEncryptionConfiguration as Json[] | undefined;
        expect({ id, rules: rules?.length ?? 0 }).toEqual({ id, rules: 1 });
      }
    });

    test('staging buckets use SSE-KMS with this stack’s key and bucket keys', () => {
      expect(stackKeyIds()).toHaveLength(1);
      for (const [id, bucket] of buckets().filter(([id]) => id !== DEPLOYMENT_BUCKET)) {
        const [rule] = bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration as Json[];
        expect({ id, rule }).toEqual({
          id,
          rule: {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [stackKeyIds()[0], 'Arn'] },
            },
          },
        });
        expect({ id, ownership: bucket.Properties.OwnershipControls }).toEqual({
          id,
          ownership: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        });
        const abort = (bucket.Properties.LifecycleConfiguration?.Rules as Json[] | undefined)?.find(
          (r) => r.AbortIncompleteMultipartUpload,
        );
        expect({ id, abort: abort?.AbortIncompleteMultipartUpload, status: abort?.Status }).toEqual({
          id,
          abort: { DaysAfterInitiation: 7 },
          status: 'Enabled',
        });
      }
    });

    test('the deployment bucket (osls core template) is encrypted with SSE-S3', () => {
      const bucket = template().Resources[DEPLOYMENT_BUCKET];
      expect(bucket?.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ]);
    });

    test('every bucket has a policy denying requests without TLS, on the bucket and its objects', () => {
      const policies = resourcesOfType(template(), 'AWS::S3::BucketPolicy');
      for (const [id] of buckets()) {
        const policy = policies.find(([, p]) => p.Properties.Bucket?.Ref === id)?.[1];
        expect({ id, hasPolicy: Boolean(policy) }).toEqual({ id, hasPolicy: true });
        const statements = asArray<Statement>(policy?.Properties.PolicyDocument.Statement);
        const denyTls = statements.find(
          (s) =>
            s.Effect === 'Deny' &&
            String(s.Condition?.Bool?.['aws:SecureTransport']) === 'false' &&
            asArray(s.Action).includes('s3:*') &&
            (s.Principal === '*' || s.Principal?.AWS === '*'),
        );
        expect({ id, denyTls: Boolean(denyTls) }).toEqual({ id, denyTls: true });
        const resources = asArray<Json>(denyTls?.Resource).map(
          (r) => subOf(r) ?? (r['Fn::Join'] ? renderJoin(r['Fn::Join']) : r),
        );
        expect({ id, resources: resources.sort() }).toEqual({
          id,
          resources: [`arn:\${AWS::Partition}:s3:::\${${id}}`, `arn:\${AWS::Partition}:s3:::\${${id}}/*`],
        });
      }
    });
  });

  describe('KMS', () => {
    test('one rotating customer-managed key with alias/eft-<stage>', () => {
      const keys = resourcesOfType(template(), 'AWS::KMS::Key');
      expect(keys).toHaveLength(1);
      const [keyId, key] = keys[0] as [string, Resource];
      expect(key.Properties.EnableKeyRotation).toBe(true);
      const aliases = resourcesOfType(template(), 'AWS::KMS::Alias').map(([, a]) => a.Properties);
      expect(aliases).toEqual([{ AliasName: `alias/eft-${STAGE}`, TargetKeyId: { Ref: keyId } }]);
    });

    test('the key policy gives the account root, and anyone else only under conditions', () => {
      const [, key] = resourcesOfType(template(), 'AWS::KMS::Key')[0] as [string, Resource];
      const statements = asArray<Statement>(key.Properties.KeyPolicy.Statement);
      const root = statements.find((s) => subOf(s.Principal?.AWS) === `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:root`);
      expect(root?.Action).toBe('kms:*');
      for (const s of statements.filter((st) => st !== root)) {
        expect({ sid: s.Sid, conditioned: Boolean(s.Condition && Object.keys(s.Condition).length) }).toEqual({
          sid: s.Sid,
          conditioned: true,
        });
        expect({ sid: s.Sid, actions: asArray(s.Action).filter((a) => a === 'kms:*' || a === '*') }).toEqual({
          sid: s.Sid,
          actions: [],
        });
      }
      const services = statements.flatMap((s) =>
        asArray<Json>(s.Condition?.StringEquals?.['kms:ViaService']).map((v) => subOf(v)?.split('.')[0]),
      );
      expect(services.sort()).toEqual(['dynamodb', 's3', 'secretsmanager', 'sqs']);
      const logs = statements.find((s) => subOf(s.Principal?.Service) === `logs.\${AWS::Region}.amazonaws.com`);
      expect(logs?.Condition?.ArnLike?.['kms:EncryptionContext:aws:logs:arn']).toBeDefined();
    });
  });

  describe('IAM least privilege', () => {
    test('no provider-wide execution role: every function has a role of its own', () => {
      expect(template().Resources.IamRoleLambdaExecution).toBeUndefined();
      const roles = lambdaFunctions(template()).map(([id, fn]) => [id, roleOf(template(), fn)[0]]);
      const shared = roles.filter(([, role], i) => roles.findIndex(([, r]) => r === role) !== i);
      expect(shared).toEqual([]);
    });

    test('no wildcard actions, and Resource "*" only for the whitelisted actions that need it', () => {
      const problems: string[] = [];
      for (const { where, statement } of identityStatements(template())) {
        if (statement.Effect !== 'Allow') continue;
        const actions = asArray(statement.Action);
        for (const action of actions) {
          if (action === '*' || action.endsWith(':*')) problems.push(`${where} ${statement.Sid ?? ''}: Action ${action}`);
        }
        if ('NotAction' in statement || 'NotResource' in statement) problems.push(`${where}: NotAction/NotResource`);
        const resources = asArray<Json>(statement.Resource);
        if (resources.some((r) => r === '*')) {
          const roleId = where.split('/')[0] ?? '';
          const notAllowed = actions.filter((a) => !starAllowed(roleId, a));
          if (notAllowed.length) problems.push(`${where} ${statement.Sid ?? ''}: ${notAllowed.join(', ')} on Resource *`);
        }
      }
      expect(problems).toEqual([]);
    });

    test('roles attach no managed policies; Lambda roles trust only Lambda, the others only their service', () => {
      // The state machine's role and the worker's two roles; every other role is a function's.
      const services: Record<string, string> = {
        TransferStateMachineExecutionRole: 'states.amazonaws.com',
        WorkerTaskRole: 'ecs-tasks.amazonaws.com',
        WorkerExecutionRole: 'ecs-tasks.amazonaws.com',
        StagingReplicationRole: 's3.amazonaws.com',
      };
      for (const [id, role] of resourcesOfType(template(), 'AWS::IAM::Role')) {
        expect({ id, managed: asArray(role.Properties.ManagedPolicyArns) }).toEqual({ id, managed: [] });
        const trust = asArray<Statement>(role.Properties.AssumeRolePolicyDocument.Statement);
        expect({ id, trust: trust.map((s) => [s.Effect, s.Principal, s.Action]) }).toEqual({
          id,
          trust: [['Allow', { Service: services[id] ?? 'lambda.amazonaws.com' }, 'sts:AssumeRole']],
        });
      }
      const functionRoles = lambdaFunctions(template()).map(([, fn]) => roleOf(template(), fn)[0]);
      const allRoles = resourcesOfType(template(), 'AWS::IAM::Role').map(([id]) => id);
      expect(allRoles.filter((id) => !functionRoles.includes(id)).sort()).toEqual(Object.keys(services).sort());
    });

    test('the state machine and worker task roles can only be assumed for this account (confused deputy)', () => {
      const conditionOf = (id: string) => template().Resources[id]?.Properties.AssumeRolePolicyDocument.Statement[0].Condition;
      expect(conditionOf('TransferStateMachineExecutionRole')).toEqual({
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: {
          'aws:SourceArn': { 'Fn::Sub': `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:stateMachine:*` },
        },
      });
      expect(conditionOf('WorkerTaskRole')).toEqual({
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: { 'aws:SourceArn': { 'Fn::Sub': `arn:\${AWS::Partition}:ecs:\${AWS::Region}:\${AWS::AccountId}:*` } },
      });
    });

    test('every resource pattern names something specific, but the whitelisted Resource "*" and customer buckets', () => {
      const problems: string[] = [];
      const customerBucketRoles = new Set<string>();
      const resourceIds = Object.keys(template().Resources);
      for (const [roleId, role] of resourcesOfType(template(), 'AWS::IAM::Role')) {
        for (const grant of grantsOf(roleId, role)) {
          const [action = '', resource = ''] = grant.split(' ');
          if (resource === '*') {
            if (!starAllowed(roleId, action)) problems.push(`${roleId}: ${grant}`);
            continue;
          }
          // Customer buckets: only S3 actions, only with the exclusion of this account's buckets.
          if (resource === `arn:\${AWS::Partition}:s3:::*` || resource === `arn:\${AWS::Partition}:s3:::*/*`) {
            const on = resource.endsWith('/*') ? 'objects' : 'buckets';
            if (!action.startsWith('s3:') || grant !== customerBucket(action, on)) problems.push(`${roleId}: ${grant}`);
            customerBucketRoles.add(roleId);
            continue;
          }
          // The ARN of a resource of this stack (iam:PassRole of the worker's roles).
          const getAtt = /^\$\{([A-Za-z0-9]+)\.Arn\}$/.exec(resource);
          if (getAtt) {
            if (!resourceIds.includes(getAtt[1] ?? '')) problems.push(`${roleId}: ${grant}`);
            continue;
          }
          // arn:partition:service:region:account:resource, where resource may be type/name or type:name (S3: just name).
          const [, , service, arnRegion = '', account = '', ...rest] = resource.split(':');
          const name = rest.join(':').replace(service === 's3' ? /^/ : /^[a-z-]+[/:]/, '');
          if (arnRegion.includes('*') || account.includes('*') || name === '' || name.startsWith('*')) {
            problems.push(`${roleId}: ${grant}`);
          }
        }
      }
      expect(problems).toEqual([]);
      expect([...customerBucketRoles].sort()).toEqual([...CUSTOMER_BUCKET_ROLES].sort());
    });

    test('secret ARNs are built with the partition, in this account, under the endpoint or webhook secret prefix or the cursor key', () => {
      const secretResources = identityStatements(template())
        .filter(({ statement }) => asArray(statement.Action).some((a) => a.startsWith('secretsmanager:')))
        .flatMap(({ where, statement }) => asArray<Json>(statement.Resource).map((r) => ({ where, arn: subOf(r) ?? r })));
      expect(secretResources.length).toBeGreaterThan(0);
      for (const { where, arn } of secretResources) {
        expect({ where, arn }).toEqual({
          where,
          arn: expect.stringMatching(
            new RegExp(
              `^arn:\\$\\{AWS::Partition\\}:secretsmanager:(\\$\\{AWS::Region\\}|${peer}):\\$\\{AWS::AccountId\\}:secret:(${SECRET_NAME_PREFIX}/\\*|${WEBHOOK_SECRET_NAME_PREFIX}/\\*|${CURSOR_KEY_NAME}-\\?{6})$`,
            ),
          ),
        });
      }
    });

    describe('endpoint functions: exactly what each needs, on this region’s tables and the endpoint secrets', () => {
      const table = (name: string) => `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${name}`;
      const secretsIn = (r: string) =>
        `arn:\${AWS::Partition}:secretsmanager:${r}:\${AWS::AccountId}:secret:${SECRET_NAME_PREFIX}/*`;
      const secrets = secretsIn(`\${AWS::Region}`);
      const { endpoints, audit, principals } = TABLE_NAMES;
      const expected: Record<EndpointFunction, string[]> = {
        createEndpoint: [
          `dynamodb:PutItem ${table(endpoints)}`,
          `dynamodb:PutItem ${table(audit)}`,
          `dynamodb:GetItem ${table(principals)}`,
          // The secret here, and its replica under the same name in the peer region.
          ...['CreateSecret', 'TagResource', 'ReplicateSecretToRegions', 'RemoveRegionsFromReplication', 'DeleteSecret'].flatMap(
            (a) => [`secretsmanager:${a} ${secrets}`, `secretsmanager:${a} ${secretsIn(peer)}`],
          ),
        ],
        listEndpoints: [
          `dynamodb:Query ${table(endpoints)}`,
          `dynamodb:GetItem ${table(principals)}`,
          `secretsmanager:GetSecretValue ${CURSOR_KEY_ARN}`,
        ],
        getEndpoint: [`dynamodb:GetItem ${table(endpoints)}`, `dynamodb:GetItem ${table(principals)}`],
        updateEndpoint: [
          `dynamodb:GetItem ${table(endpoints)}`,
          `dynamodb:UpdateItem ${table(endpoints)}`,
          `dynamodb:PutItem ${table(audit)}`,
          `dynamodb:GetItem ${table(principals)}`,
          // The primary is in whichever region created the endpoint.
          `secretsmanager:PutSecretValue ${secrets}`,
          `secretsmanager:PutSecretValue ${secretsIn(peer)}`,
        ],
        deleteEndpoint: [
          `dynamodb:GetItem ${table(endpoints)}`,
          `dynamodb:UpdateItem ${table(endpoints)}`,
          `dynamodb:PutItem ${table(audit)}`,
          `dynamodb:GetItem ${table(principals)}`,
        ],
        validateEndpoint: [
          `dynamodb:GetItem ${table(endpoints)}`,
          `dynamodb:UpdateItem ${table(endpoints)}`,
          `dynamodb:PutItem ${table(audit)}`,
          `dynamodb:GetItem ${table(principals)}`,
          `secretsmanager:GetSecretValue ${secrets}`,
          ...CUSTOMER_BUCKET_GRANTS,
          // SFTP probes take a session slot of the endpoint.
          ...SESSION_SLOTS,
        ],
        endpointAudit: [
          `dynamodb:Query ${table(audit)}`,
          `dynamodb:GetItem ${table(endpoints)}`,
          `dynamodb:GetItem ${table(principals)}`,
        ],
      };

      test.each(Object.keys(ENDPOINT_FUNCTIONS) as EndpointFunction[])('%s', (name) => {
        const [roleId, role] = roleOf(template(), functionNamed(template(), name));
        const logGroup = `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/eft-${STAGE}-${name}:*`;
        expect(grantsOf(roleId, role)).toEqual(
          [
            ...expected[name],
            `logs:CreateLogStream ${logGroup}`,
            `logs:PutLogEvents ${logGroup}`,
            'xray:PutTelemetryRecords *',
            'xray:PutTraceSegments *',
          ].sort(),
        );
      });
    });

    test.each(Object.keys(LEASE_FUNCTIONS))('%s may only GetItem/UpdateItem the leases table, its own logs and X-Ray', (name) => {
      const [roleId, role] = roleOf(template(), functionNamed(template(), name));
      const grants = grantsOf(roleId, role);
      const leases = `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${TABLE_NAMES.leases}`;
      const logGroup = `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/eft-${STAGE}-${name}:*`;
      expect(grants).toEqual(
        [
          `dynamodb:GetItem ${leases}`,
          `dynamodb:UpdateItem ${leases}`,
          `logs:CreateLogStream ${logGroup}`,
          `logs:PutLogEvents ${logGroup}`,
          'xray:PutTelemetryRecords *',
          'xray:PutTraceSegments *',
        ].sort(),
      );
    });

    describe('transfer API functions: exactly what each needs', () => {
      const { endpoints, jobs, audit, principals } = TABLE_NAMES;
      const expected: Record<TransferFunction, string[]> = {
        createTransfers: [
          `dynamodb:BatchGetItem ${tableArn(endpoints)}`,
          `dynamodb:PutItem ${tableArn(jobs)}`,
          `dynamodb:GetItem ${tableArn(jobs)}`,
          `dynamodb:BatchWriteItem ${tableArn(audit)}`,
          `dynamodb:GetItem ${tableArn(principals)}`,
          `states:StartExecution ${STATE_MACHINE_ARN}`,
          // SFTP sources: stat/readdir with the endpoint's credentials; S3 sources: HeadObject, ListObjectsV2.
          `secretsmanager:GetSecretValue ${ENDPOINT_SECRETS}`,
          customerBucket('s3:GetObject', 'objects'),
          customerBucket('s3:ListBucket', 'buckets'),
          // SFTP sources are listed in a session slot of the endpoint.
          ...SESSION_SLOTS,
        ],
        listJobs: [
          `dynamodb:Query ${tableArn(jobs)}`,
          `dynamodb:Query ${tableArn(jobs)}/index/byRequest`,
          `dynamodb:GetItem ${tableArn(principals)}`,
          `secretsmanager:GetSecretValue ${CURSOR_KEY_ARN}`,
        ],
        getJob: [`dynamodb:GetItem ${tableArn(jobs)}`, `dynamodb:GetItem ${tableArn(principals)}`],
        cancelJob: [
          `dynamodb:GetItem ${tableArn(jobs)}`,
          `dynamodb:UpdateItem ${tableArn(jobs)}`,
          `dynamodb:BatchWriteItem ${tableArn(audit)}`,
          `dynamodb:PutItem ${tableArn(audit)}`,
          `dynamodb:GetItem ${tableArn(principals)}`,
          // A started job whose execution is gone is cancelled under its partition's lease.
          ...ORPHAN_LEASE,
        ],
        redriveJob: [
          `dynamodb:GetItem ${tableArn(jobs)}`,
          `dynamodb:UpdateItem ${tableArn(jobs)}`,
          `dynamodb:PutItem ${tableArn(jobs)}`,
          `dynamodb:BatchWriteItem ${tableArn(audit)}`,
          `dynamodb:PutItem ${tableArn(audit)}`,
          `dynamodb:GetItem ${tableArn(principals)}`,
          `states:StartExecution ${STATE_MACHINE_ARN}`,
          ...ORPHAN_LEASE,
        ],
      };

      test.each(Object.keys(TRANSFER_FUNCTIONS) as TransferFunction[])('%s', (name) => {
        const [roleId, role] = roleOf(template(), functionNamed(template(), name));
        expect(roleId).toBe(`${name[0]?.toUpperCase()}${name.slice(1)}Role`);
        expect(grantsOf(roleId, role)).toEqual([...expected[name], ...functionBasics(name)].sort());
      });
    });

    describe('state machine task functions: exactly what each needs', () => {
      const { endpoints, jobs, leases, audit } = TABLE_NAMES;
      const jobChange = [`dynamodb:GetItem ${tableArn(jobs)}`, `dynamodb:UpdateItem ${tableArn(jobs)}`];
      const leaseChange = [`dynamodb:GetItem ${tableArn(leases)}`, `dynamodb:UpdateItem ${tableArn(leases)}`];
      // A write that enters several states (or ends a batch's job) writes its events in one batch.
      const auditAppend = [`dynamodb:PutItem ${tableArn(audit)}`, `dynamodb:BatchWriteItem ${tableArn(audit)}`];
      const expected: Record<OrchestrationFunction, string[]> = {
        startTransfer: [...jobChange, ...leaseChange, ...auditAppend],
        copyS3Object: [
          ...jobChange,
          `dynamodb:BatchGetItem ${tableArn(endpoints)}`,
          ...leaseChange,
          ...auditAppend,
          customerBucket('s3:ListBucket', 'buckets'),
          customerBucket('s3:ListBucketMultipartUploads', 'buckets'),
          ...['GetObject', 'GetObjectVersion', 'PutObject', 'AbortMultipartUpload', 'ListMultipartUploadParts'].map((a) =>
            customerBucket(`s3:${a}`, 'objects'),
          ),
        ],
        verifyTransfer: [
          ...jobChange,
          `dynamodb:GetItem ${tableArn(endpoints)}`,
          ...auditAppend,
          `secretsmanager:GetSecretValue ${ENDPOINT_SECRETS}`,
          // HeadObject of what was delivered: in this region's staging bucket or a customer bucket.
          `s3:GetObject arn:\${AWS::Partition}:s3:::\${StagingBucket}/*`,
          customerBucket('s3:GetObject', 'objects'),
          // SFTP destinations are stat'ed in a session slot of the endpoint.
          ...SESSION_SLOTS,
        ],
        failTransfer: [...jobChange, ...leaseChange, ...auditAppend],
        // Reads the batch's first job for its partition; the worker claims the jobs.
        startBatch: [`dynamodb:GetItem ${tableArn(jobs)}`, ...leaseChange],
        failBatch: [...jobChange, ...leaseChange, ...auditAppend],
        // The worker's task role but the batch's execution input (checked in 'issue 18: the small-file fast path').
        smallTransfer: [
          ...jobChange,
          `dynamodb:GetItem ${tableArn(endpoints)}`,
          ...leaseChange,
          ...auditAppend,
          `secretsmanager:GetSecretValue ${ENDPOINT_SECRETS}`,
          ...['ListBucket', 'ListBucketMultipartUploads'].map((a) => `s3:${a} arn:\${AWS::Partition}:s3:::\${StagingBucket}`),
          ...['GetObject', 'PutObject', 'DeleteObject', 'AbortMultipartUpload', 'ListMultipartUploadParts'].map(
            (a) => `s3:${a} arn:\${AWS::Partition}:s3:::\${StagingBucket}/*`,
          ),
          ...['ListBucket', 'ListBucketMultipartUploads'].map((a) => customerBucket(`s3:${a}`, 'buckets')),
          ...['GetObject', 'PutObject', 'DeleteObject', 'AbortMultipartUpload', 'ListMultipartUploadParts'].map((a) =>
            customerBucket(`s3:${a}`, 'objects'),
          ),
        ],
      };

      test.each(Object.keys(ORCHESTRATION_FUNCTIONS) as OrchestrationFunction[])('%s', (name) => {
        const [roleId, role] = roleOf(template(), functionNamed(template(), name));
        expect(grantsOf(roleId, role)).toEqual([...expected[name], ...functionBasics(name)].sort());
      });

      test('handlers, memory and timeouts; no events (only the state machine invokes them)', () => {
        for (const [name, { handler, timeout, memory }] of Object.entries(ORCHESTRATION_FUNCTIONS)) {
          const fn = functionNamed(template(), name);
          expect({
            name,
            handler: fn.Properties.Handler,
            timeout: fn.Properties.Timeout,
            memory: fn.Properties.MemorySize,
          }).toEqual({
            name,
            handler,
            timeout,
            memory,
          });
          expect({ name, state: packaged[key].state.service.functions[name].events }).toEqual({ name, state: [] });
          // The copy keeps its tuning defaults (core/adapters/s3/server-side-copy-config.ts).
          const env = Object.keys(fn.Properties.Environment?.Variables ?? {});
          expect({ name, copyTuning: env.filter((v) => v.startsWith('COPY_')) }).toEqual({ name, copyTuning: [] });
        }
      });
    });

    describe('route and schedule API functions: exactly what each needs, on the triggers table', () => {
      const { endpoints, audit, principals, triggers } = TABLE_NAMES;
      const caller = `dynamodb:GetItem ${tableArn(principals)}`;
      const onTriggers = (...actions: string[]) => actions.map((a) => `dynamodb:${a} ${tableArn(triggers)}`);
      // Create and update read the endpoints a route or schedule names; every change is audited.
      const change = (...actions: string[]) => [
        ...onTriggers(...actions),
        `dynamodb:GetItem ${tableArn(endpoints)}`,
        `dynamodb:PutItem ${tableArn(audit)}`,
      ];
      const byKind = {
        create: change('PutItem'),
        list: [...onTriggers('Query'), `secretsmanager:GetSecretValue ${CURSOR_KEY_ARN}`],
        get: onTriggers('GetItem'),
        update: change('GetItem', 'UpdateItem'),
        delete: [...onTriggers('GetItem', 'DeleteItem'), `dynamodb:PutItem ${tableArn(audit)}`],
      };
      const kindOf = (name: string) => (name.match(/^(create|list|get|update|delete)/)?.[1] ?? '') as keyof typeof byKind;

      test.each(Object.keys(TRIGGER_API_FUNCTIONS))('%s', (name) => {
        const fn = functionNamed(template(), name);
        expect(fn.Properties.Handler).toBe(TRIGGER_API_FUNCTIONS[name as keyof typeof TRIGGER_API_FUNCTIONS].handler);
        const [roleId, role] = roleOf(template(), fn);
        expect(roleId).toBe(`${name[0]?.toUpperCase()}${name.slice(1)}Role`);
        expect(grantsOf(roleId, role)).toEqual([...byKind[kindOf(name)], caller, ...functionBasics(name)].sort());
      });
    });

    describe('event functions (routes, schedules, notifications): exactly what each needs', () => {
      const { endpoints, jobs, audit, triggers, triggerState, webhooks } = TABLE_NAMES;
      const consume = (queue: string) =>
        ['ReceiveMessage', 'DeleteMessage', 'ChangeMessageVisibility', 'GetQueueAttributes'].map(
          (a) => `sqs:${a} \${${queue}.Arn}`,
        );
      const viaSqs = JSON.stringify({ StringEquals: { 'kms:ViaService': { 'Fn::Sub': `sqs.\${AWS::Region}.amazonaws.com` } } });
      const expected: Record<EventFunction, string[]> = {
        ingestS3Events: [
          // A bucket's routes: the sparse bySourceBucket index only (projection ALL), never the table.
          `dynamodb:Query ${tableArn(triggers)}/index/bySourceBucket`,
          // The S3 keys' sequencer marks, and nothing else of trigger-state (the schedules' sightings).
          `dynamodb:UpdateItem ${tableArn(triggerState)} if ${JSON.stringify({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['obj#*'] } })}`,
          `dynamodb:GetItem ${tableArn(endpoints)}`,
          `dynamodb:PutItem ${tableArn(jobs)}`,
          `dynamodb:GetItem ${tableArn(jobs)}`,
          `dynamodb:BatchWriteItem ${tableArn(audit)}`,
          `states:StartExecution ${STATE_MACHINE_ARN}`,
          ...consume('S3EventsQueue'),
          // Poison events are set aside with their reason.
          `sqs:SendMessage \${S3EventsDeadLetterQueue.Arn}`,
          `kms:Decrypt \${EftKey.Arn} if ${viaSqs}`,
          `kms:GenerateDataKey \${EftKey.Arn} if ${viaSqs}`,
        ],
        tickSchedules: [
          `dynamodb:Query ${tableArn(triggers)}/index/byDue`,
          // The claim of a run: a conditional update of the schedule's nextRunAt.
          `dynamodb:UpdateItem ${tableArn(triggers)}`,
          `sqs:SendMessage \${SchedulePollsQueue.Arn}`,
        ],
        // It reads and starts executions; the executions write, under the lease they take.
        reconcileJobs: [
          `dynamodb:Query ${tableArn(jobs)}/index/byActive`,
          `dynamodb:BatchGetItem ${tableArn(jobs)}`,
          `dynamodb:GetItem ${tableArn(TABLE_NAMES.leases)}`,
          `states:StartExecution ${STATE_MACHINE_ARN}`,
        ],
        pollSchedule: [
          ...(STAR_RESOURCE_ALLOWED_FOR.PollScheduleRole ?? []).map((a) => `${a} *`),
          ...consume('SchedulePollsQueue'),
          `dynamodb:GetItem ${tableArn(triggers)}`,
          // The schedules' sightings, and nothing else of trigger-state (route ingestion's key marks).
          ...['Query', 'BatchWriteItem'].map(
            (a) =>
              `dynamodb:${a} ${tableArn(triggerState)} if ${JSON.stringify({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['sched#*'] } })}`,
          ),
          `dynamodb:GetItem ${tableArn(endpoints)}`,
          `dynamodb:PutItem ${tableArn(jobs)}`,
          `dynamodb:GetItem ${tableArn(jobs)}`,
          `dynamodb:UpdateItem ${tableArn(jobs)}`,
          `dynamodb:BatchWriteItem ${tableArn(audit)}`,
          `dynamodb:PutItem ${tableArn(audit)}`,
          `states:StartExecution ${STATE_MACHINE_ARN}`,
          // The partner folder is listed, and delivered files removed or moved, over SFTP in a session slot.
          `secretsmanager:GetSecretValue ${ENDPOINT_SECRETS}`,
          ...SESSION_SLOTS,
        ],
        // This region's jobs stream (its event source mapping reads with the function's role), the default bus,
        // the customer's webhooks and a delivery log entry per webhook and change, and the deliveries queue.
        publishJobEvents: [
          ...['DescribeStream', 'GetRecords', 'GetShardIterator', 'ListStreams'].map(
            (a) => `dynamodb:${a} ${tableArn(jobs)}/stream/*`,
          ),
          `events:PutEvents arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:event-bus/default`,
          ...['Query', 'GetItem', 'PutItem'].map((a) => `dynamodb:${a} ${tableArn(webhooks)}`),
          `sqs:SendMessage \${WebhookDeliveriesQueue.Arn}`,
          // The mapping's on-failure destination is sent to with the function's role.
          `sqs:SendMessage \${JobEventsDeadLetterQueue.Arn}`,
        ],
        // One attempt per message; the retry is a new, delayed message on the same queue.
        deliverWebhooks: [
          ...consume('WebhookDeliveriesQueue'),
          `sqs:SendMessage \${WebhookDeliveriesQueue.Arn}`,
          ...['GetItem', 'PutItem'].map((a) => `dynamodb:${a} ${tableArn(webhooks)}`),
          // The signing secrets in this region (east: the replicas), nothing else.
          `secretsmanager:GetSecretValue arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${WEBHOOK_SECRET_NAME_PREFIX}/*`,
        ],
      };

      test.each(Object.keys(EVENT_FUNCTIONS) as EventFunction[])('%s', (name) => {
        const [roleId, role] = roleOf(template(), functionNamed(template(), name));
        expect(roleId).toBe(`${name[0]?.toUpperCase()}${name.slice(1)}Role`);
        expect(grantsOf(roleId, role)).toEqual([...expected[name], ...functionBasics(name)].sort());
      });
    });
  });

  describe('routes, schedules and notifications: event sources, queues, the ingest bus', () => {
    const getAttOf = (value: Json): string | undefined => value?.['Fn::GetAtt']?.[0];
    const queues = () => resourcesOfType(template(), 'AWS::SQS::Queue');
    const rules = () => resourcesOfType(template(), 'AWS::Events::Rule');
    const functionId = (name: string) =>
      lambdaFunctions(template()).find(([, fn]) => fn.Properties.FunctionName === `eft-${STAGE}-${name}`)?.[0];

    test('the event functions: handlers and timeouts', () => {
      for (const [name, { handler, timeout }] of Object.entries(EVENT_FUNCTIONS)) {
        const fn = functionNamed(template(), name);
        expect({ name, handler: fn.Properties.Handler, timeout: fn.Properties.Timeout }).toEqual({ name, handler, timeout });
      }
    });

    test('event sources: each queue function drains its own queue, the stream function reads the jobs stream, enabled, reporting batch item failures', () => {
      const mappings = Object.fromEntries(
        resourcesOfType(template(), 'AWS::Lambda::EventSourceMapping').map(([, m]) => {
          const fn = template().Resources[getAttOf(m.Properties.FunctionName) ?? ''];
          return [
            fn?.Properties.FunctionName,
            {
              source: getAttOf(m.Properties.EventSourceArn),
              batchSize: m.Properties.BatchSize,
              enabled: m.Properties.Enabled,
              // Without it one failed record of a batch would redeliver (and after 5 receives dead-letter) the whole batch.
              responseTypes: m.Properties.FunctionResponseTypes,
            },
          ];
        }),
      );
      expect(mappings).toEqual(
        Object.fromEntries(
          Object.entries(EVENT_FUNCTIONS).flatMap(([name, f]) =>
            'queue' in f || 'stream' in f
              ? [
                  [
                    `eft-${STAGE}-${name}`,
                    {
                      source: 'queue' in f ? f.queue : f.stream,
                      batchSize: f.batchSize,
                      enabled: true,
                      responseTypes: ['ReportBatchItemFailures'],
                    },
                  ],
                ]
              : [],
          ),
        ),
      );
    });

    test('the schedule tick and the reconciler run on their schedules; EventBridge may invoke each from its rule only', () => {
      const scheduled = rules().filter(([, r]) => r.Properties.ScheduleExpression !== undefined);
      const onSchedule = ['tickSchedules', 'reconcileJobs'] as const;
      const ruleOf = new Map(scheduled.map(([id, r]) => [getAttOf((r.Properties.Targets as Json[])[0]?.Arn), id]));
      expect(
        scheduled
          .map(([, r]) => [
            getAttOf((r.Properties.Targets as Json[])[0]?.Arn),
            r.Properties.ScheduleExpression,
            r.Properties.State,
          ])
          .sort(),
      ).toEqual(onSchedule.map((name) => [functionId(name), EVENT_FUNCTIONS[name].schedule, 'ENABLED']).sort());
      for (const [, rule] of scheduled) expect(rule.Properties.Targets).toHaveLength(1);
      const invokers = resourcesOfType(template(), 'AWS::Lambda::Permission').filter(
        ([, p]) => p.Properties.Principal === 'events.amazonaws.com',
      );
      expect(
        invokers.map(([, p]) => [getAttOf(p.Properties.FunctionName), p.Properties.Action, p.Properties.SourceArn]).sort(),
      ).toEqual(
        onSchedule
          .map((name) => [functionId(name), 'lambda:InvokeFunction', { 'Fn::GetAtt': [ruleOf.get(functionId(name)), 'Arn'] }])
          .sort(),
      );
    });

    test('every queue is encrypted with the stack key; each work queue moves a message to its DLQ after 5 receives, a stream’s failed batches go to theirs', () => {
      expect(
        queues()
          .map(([id]) => id)
          .sort(),
      ).toEqual([...Object.keys(QUEUES), ...DEAD_LETTER_QUEUES].sort());
      for (const [id, queue] of queues()) {
        expect({ id, key: queue.Properties.KmsMasterKeyId }).toEqual({ id, key: { 'Fn::GetAtt': ['EftKey', 'Arn'] } });
      }
      for (const [id, dlq] of Object.entries(QUEUES)) {
        const p = template().Resources[id]?.Properties;
        expect({ id, redrive: p.RedrivePolicy }).toEqual({
          id,
          redrive: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 5 },
        });
        // A DLQ keeps its messages 14 days (SQS's longest), longer than the queue it serves, and has no DLQ of its own.
        const d = template().Resources[dlq]?.Properties;
        expect({ dlq, retention: d.MessageRetentionPeriod, redrive: d.RedrivePolicy }).toEqual({
          dlq,
          retention: 1209600,
          redrive: undefined,
        });
        expect(p.MessageRetentionPeriod ?? 345600).toBeLessThan(d.MessageRetentionPeriod);
      }
      // A stream's reader retries a failed batch a bounded number of times, then sends where it was (to read it back
      // from the stream within its 24 hours) to a DLQ kept 14 days; without a bound one bad record blocks its shard.
      for (const [stream, dlq] of Object.entries(STREAM_DEAD_LETTER_QUEUES)) {
        const readers = resourcesOfType(template(), 'AWS::Lambda::EventSourceMapping').filter(
          ([, m]) => getAttOf(m.Properties.EventSourceArn) === stream,
        );
        expect({ stream, readers: readers.length }).toEqual({ stream, readers: 1 });
        const m = readers[0]?.[1].Properties;
        expect({ stream, retries: m.MaximumRetryAttempts, onFailure: m.DestinationConfig }).toEqual({
          stream,
          retries: 10,
          onFailure: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq, 'Arn'] } } },
        });
        const d = template().Resources[dlq]?.Properties;
        expect({ dlq, retention: d.MessageRetentionPeriod, redrive: d.RedrivePolicy }).toEqual({
          dlq,
          retention: 1209600,
          redrive: undefined,
        });
      }
    });

    test('a queue’s visibility timeout is at least 6 × its function’s timeout (no redelivery while a record is worked on)', () => {
      for (const [name, f] of Object.entries(EVENT_FUNCTIONS)) {
        if (!('queue' in f)) continue;
        const visibility = template().Resources[f.queue]?.Properties.VisibilityTimeout;
        expect({ name, enough: visibility >= 6 * functionNamed(template(), name).Properties.Timeout }).toEqual({
          name,
          enough: true,
        });
      }
    });

    test('queue policies: TLS only, and only EventBridge may send, from the rule that targets the queue (aws:SourceArn)', () => {
      const policies = resourcesOfType(template(), 'AWS::SQS::QueuePolicy');
      expect(policies.length).toBeGreaterThan(0);
      // The queues (or DLQs) each rule delivers to.
      const delivers = Object.fromEntries(
        rules().map(([id, r]) => [
          id,
          asArray<Json>(r.Properties.Targets).flatMap((t) => [getAttOf(t.Arn), getAttOf(t.DeadLetterConfig?.Arn)]),
        ]),
      );
      for (const [id, policy] of policies) {
        const covered = asArray<Json>(policy.Properties.Queues).map((q) => q.Ref);
        for (const s of asArray<Statement>(policy.Properties.PolicyDocument.Statement)) {
          const resources = asArray<Json>(s.Resource).map(getAttOf);
          expect({ id, sid: s.Sid, resources: [...resources].sort() }).toEqual({
            id,
            sid: s.Sid,
            resources: [...covered].sort(),
          });
          if (s.Effect === 'Deny') {
            expect({ id, sid: s.Sid, condition: s.Condition }).toEqual({
              id,
              sid: s.Sid,
              condition: { Bool: { 'aws:SecureTransport': 'false' } },
            });
            continue;
          }
          const rule = getAttOf(s.Condition?.ArnEquals?.['aws:SourceArn']);
          expect({ id, sid: s.Sid, principal: s.Principal, action: s.Action, condition: Object.keys(s.Condition ?? {}) }).toEqual(
            {
              id,
              sid: s.Sid,
              principal: { Service: 'events.amazonaws.com' },
              action: 'sqs:SendMessage',
              condition: ['ArnEquals'],
            },
          );
          // The source is a rule of this stack that delivers to exactly these queues.
          expect({ id, sid: s.Sid, delivers: [...(delivers[rule ?? ''] ?? [])].sort() }).toEqual({
            id,
            sid: s.Sid,
            delivers: [...resources].sort(),
          });
        }
      }
    });

    test('the ingest bus admits the listed accounts only (no wildcard principal), and only their S3 Object Created events', () => {
      const buses = resourcesOfType(template(), 'AWS::Events::EventBus');
      expect(buses.map(([id, b]) => [id, b.Properties.Name])).toEqual([['IngestEventBus', `eft-${STAGE}-ingest`]]);
      const policies = resourcesOfType(template(), 'AWS::Events::EventBusPolicy');
      expect(policies.map(([id]) => id)).toEqual(['IngestEventBusPolicy']);
      const p = policies[0]?.[1].Properties;
      expect(p.EventBusName).toEqual({ Ref: 'IngestEventBus' });
      const statement = p.Statement as Statement;
      expect(Object.keys(statement.Principal)).toEqual(['AWS']);
      const principals = asArray<Json>(statement.Principal.AWS);
      expect(principals.length).toBeGreaterThan(0);
      // Account ids (the region files' default: this account), never "*" nor an ARN pattern.
      expect(principals.filter((a) => JSON.stringify(a).includes('*'))).toEqual([]);
      expect(principals.filter((a) => !(typeof a === 'string' ? /^\d{12}$/.test(a) : a?.Ref === 'AWS::AccountId'))).toEqual([]);
      expect({ effect: statement.Effect, action: statement.Action, resource: statement.Resource }).toEqual({
        effect: 'Allow',
        action: 'events:PutEvents',
        resource: { 'Fn::GetAtt': ['IngestEventBus', 'Arn'] },
      });
      expect(statement.Condition).toEqual({
        StringEquals: { 'events:source': 'aws.s3', 'events:detail-type': 'Object Created' },
      });
    });

    test('the ingest rule: S3 Object Created on the ingest bus → S3EventsQueue (failures to its DLQ); the stack key lets that rule encrypt', () => {
      const ingest = rules().filter(([, r]) => r.Properties.EventBusName !== undefined);
      expect(ingest.map(([id]) => id)).toEqual(['S3ObjectCreatedRule']);
      const r = ingest[0]?.[1].Properties;
      expect({ bus: r.EventBusName, state: r.State, pattern: r.EventPattern }).toEqual({
        bus: { Ref: 'IngestEventBus' },
        state: 'ENABLED',
        pattern: { source: ['aws.s3'], 'detail-type': ['Object Created'] },
      });
      expect(
        (r.Targets as Json[]).map((t) => ({
          queue: getAttOf(t.Arn),
          dlq: getAttOf(t.DeadLetterConfig?.Arn),
          transformed: Boolean(t.InputTransformer ?? t.Input ?? t.InputPath),
        })),
      ).toEqual([{ queue: 'S3EventsQueue', dlq: 'S3EventsDeadLetterQueue', transformed: false }]);
      // The key policy names the rule by an ARN built from its name (no dependency cycle): it must be this rule's.
      const [, key] = resourcesOfType(template(), 'AWS::KMS::Key')[0] as [string, Resource];
      const fromEvents = asArray<Statement>(key.Properties.KeyPolicy.Statement).filter(
        (s) => s.Principal?.Service === 'events.amazonaws.com',
      );
      expect(fromEvents.map((s) => subOf(s.Condition?.ArnEquals?.['aws:SourceArn']))).toEqual([
        `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:rule/eft-${STAGE}-ingest/${r.Name}`,
      ]);
      expect(fromEvents.map((s) => s.Condition?.StringEquals)).toEqual([{ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }]);
    });
  });

  describe('transfer state machine', () => {
    const machine = () => template().Resources.TransferStateMachine as Resource;
    const states = () => transferDefinition(template()).definition.States as Record<string, Json>;
    const resolved = (value: Json) => resolvedIn(transferDefinition(template()).params, value);

    test('one state machine, eft-<stage>-transfer, with its own role, X-Ray, and ERROR logs without execution data', () => {
      expect(resourcesOfType(template(), 'AWS::StepFunctions::StateMachine').map(([id]) => id)).toEqual(['TransferStateMachine']);
      const p = machine().Properties;
      expect(p.StateMachineName).toBe(STATE_MACHINE_NAME);
      expect(p.StateMachineType ?? 'STANDARD').toBe('STANDARD');
      expect(p.RoleArn).toEqual({ 'Fn::GetAtt': ['TransferStateMachineExecutionRole', 'Arn'] });
      expect(p.TracingConfiguration).toEqual({ Enabled: true });
      expect(p.LoggingConfiguration).toEqual({
        Level: 'ERROR',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': ['TransferStateMachineLogGroup', 'Arn'] } } }],
      });
      expect(template().Resources.TransferStateMachineLogGroup?.Properties).toEqual(
        expect.objectContaining({
          LogGroupName: `/aws/vendedlogs/states/${STATE_MACHINE_NAME}`,
          RetentionInDays: 365,
          KmsKeyId: { 'Fn::GetAtt': ['EftKey', 'Arn'] },
        }),
      );
      // The ARN the functions are given is the one this name yields.
      expect(template().Outputs?.TransferStateMachineArn?.Value).toEqual({ Ref: 'TransferStateMachine' });
    });

    test('has the states of statemachines/transfer.yml: one job or a batch', () => {
      const { definition } = transferDefinition(template());
      expect(definition.StartAt).toBe('OneJobOrBatch');
      expect(Object.keys(states())).toEqual([
        'OneJobOrBatch',
        'StartTransfer',
        'ShouldRun',
        'Skipped',
        'Deferred',
        'ChooseFlow',
        'RunSmallTransfer',
        'CopyS3Object',
        'RunWorker',
        'StartBatch',
        'BatchHasWork',
        'RunBatchWorker',
        'FailBatch',
        'VerifyTransfer',
        'ReleaseLease',
        'Succeeded',
        'FailTransfer',
        'Failed',
      ]);
    });

    test('its Lambda tasks invoke this stack’s seven task functions', () => {
      const lambdaTasks = Object.fromEntries(
        Object.entries(states())
          .filter(([name, state]) => state.Type === 'Task' && !name.startsWith('Run'))
          .map(([name, state]) => {
            const target = resolved(state.Resource);
            const fn = template().Resources[target?.['Fn::GetAtt']?.[0]];
            expect({ name, target: target?.['Fn::GetAtt']?.[1], type: fn?.Type }).toEqual({
              name,
              target: 'Arn',
              type: 'AWS::Lambda::Function',
            });
            return [name, fn?.Properties.FunctionName];
          }),
      );
      expect(lambdaTasks).toEqual({
        StartTransfer: `eft-${STAGE}-startTransfer`,
        CopyS3Object: `eft-${STAGE}-copyS3Object`,
        VerifyTransfer: `eft-${STAGE}-verifyTransfer`,
        ReleaseLease: `eft-${STAGE}-releaseLease`,
        FailTransfer: `eft-${STAGE}-failTransfer`,
        StartBatch: `eft-${STAGE}-startBatch`,
        FailBatch: `eft-${STAGE}-failBatch`,
      });
    });

    test.each(['RunWorker', 'RunBatchWorker'])(
      '%s runs the worker task definition in the worker cluster (.sync), in the egress network’s subnets, no public IP',
      (state) => {
        const run = states()[state];
        expect(run.Resource).toBe(`arn:\${AWS::Partition}:states:::ecs:runTask.sync`);
        expect(run.Parameters.LaunchType).toBe('FARGATE');
        expect(resolved(run.Parameters.Cluster)).toEqual({ 'Fn::GetAtt': ['WorkerCluster', 'Arn'] });
        expect(resolved(run.Parameters.TaskDefinition)).toEqual({ Ref: 'WorkerTaskDefinition' });
        const network = run.Parameters.NetworkConfiguration.AwsvpcConfiguration;
        // The egress network's (resources/vpc.yml): checked in 'issue 16: deploy (ECR, network)'.
        expect(network.Subnets).toEqual([expect.stringMatching(/^\$\{[0-9a-f]{32}\}$/)]);
        expect(network.SecurityGroups).toEqual([expect.stringMatching(/^\$\{[0-9a-f]{32}\}$/)]);
        expect(network.AssignPublicIp).toBe('DISABLED');
        // The overrides name the task definition's one container.
        const containers = template().Resources.WorkerTaskDefinition?.Properties.ContainerDefinitions as Json[];
        expect(run.Parameters.Overrides.ContainerOverrides.map((o: Json) => o.Name)).toEqual(containers.map((c) => c.Name));
        // Nothing in the definition names a partition literally.
        expect(transferDefinition(template()).text).not.toMatch(/arn:aws[:-]/);
      },
    );

    test('its role grants exactly what the tasks need: seven functions, the worker task and its two roles, the .sync rule', () => {
      const roleId = 'TransferStateMachineExecutionRole';
      const role = template().Resources[roleId] as Resource;
      const cluster = JSON.stringify({ ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': ['WorkerCluster', 'Arn'] } } });
      const passedToEcs = JSON.stringify({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
      expect(grantsOf(roleId, role)).toEqual(
        [
          ...STATE_MACHINE_FUNCTIONS.map((name) => `lambda:InvokeFunction ${functionArn(name)}`),
          // Any revision of the worker's family, only in the worker cluster.
          `ecs:RunTask arn:\${AWS::Partition}:ecs:\${AWS::Region}:\${AWS::AccountId}:task-definition/${WORKER_FAMILY}:* if ${cluster}`,
          `ecs:DescribeTasks arn:\${AWS::Partition}:ecs:\${AWS::Region}:\${AWS::AccountId}:task/\${WorkerCluster}/*`,
          `ecs:StopTask arn:\${AWS::Partition}:ecs:\${AWS::Region}:\${AWS::AccountId}:task/\${WorkerCluster}/*`,
          `iam:PassRole \${WorkerTaskRole.Arn} if ${passedToEcs}`,
          `iam:PassRole \${WorkerExecutionRole.Arn} if ${passedToEcs}`,
          ...['PutTargets', 'PutRule', 'DescribeRule'].map(
            (a) =>
              `events:${a} arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:rule/StepFunctionsGetEventsForECSTaskRule`,
          ),
          ...['PutTraceSegments', 'PutTelemetryRecords', 'GetSamplingRules', 'GetSamplingTargets'].map((a) => `xray:${a} *`),
          ...[
            'CreateLogDelivery',
            'GetLogDelivery',
            'UpdateLogDelivery',
            'DeleteLogDelivery',
            'ListLogDeliveries',
            'PutResourcePolicy',
            'DescribeResourcePolicies',
            'DescribeLogGroups',
          ].map((a) => `logs:${a} *`),
        ].sort(),
      );
      // The functions it may invoke are exactly those the definition names; the roles it may pass exactly the worker's.
      const invoked = Object.values(states())
        .filter((state) => state.Type === 'Task' && typeof resolved(state.Resource) === 'object')
        .map((state) =>
          functionArn(
            template().Resources[resolved(state.Resource)['Fn::GetAtt'][0]]?.Properties.FunctionName.replace(`eft-${STAGE}-`, ''),
          ),
        )
        .sort();
      expect(invoked).toEqual(STATE_MACHINE_FUNCTIONS.map(functionArn).sort());
      const task = template().Resources.WorkerTaskDefinition?.Properties;
      expect([task.TaskRoleArn, task.ExecutionRoleArn]).toEqual([
        { 'Fn::GetAtt': ['WorkerTaskRole', 'Arn'] },
        { 'Fn::GetAtt': ['WorkerExecutionRole', 'Arn'] },
      ]);
      // The task definition family the role allows is the worker's.
      expect(task.Family).toBe(WORKER_FAMILY);
    });
  });

  describe('FIPS endpoints (README "FIPS endpoints")', () => {
    test('every Lambda function gets AWS_USE_FIPS_ENDPOINT=true', () => {
      const fns = resourcesOfType(template(), 'AWS::Lambda::Function');
      expect(fns.length).toBeGreaterThan(0);
      const without = fns
        .filter(([, fn]) => fn.Properties.Environment?.Variables?.AWS_USE_FIPS_ENDPOINT !== 'true')
        .map(([id, fn]) => `${id}: ${fn.Properties.Environment?.Variables?.AWS_USE_FIPS_ENDPOINT}`);
      expect(without).toEqual([]);
    });

    test('every container of every task definition (the worker) gets AWS_USE_FIPS_ENDPOINT=true', () => {
      const containers = resourcesOfType(template(), 'AWS::ECS::TaskDefinition').flatMap(([id, task]) =>
        (task.Properties.ContainerDefinitions as Json[]).map((c) => ({
          container: `${id}/${c.Name}`,
          fips: (c.Environment as Json[]).filter((v) => v.Name === 'AWS_USE_FIPS_ENDPOINT').map((v) => v.Value),
        })),
      );
      expect(containers).toEqual([{ container: 'WorkerTaskDefinition/worker', fips: ['true'] }]);
    });
  });

  describe('Fargate worker', () => {
    const task = () => template().Resources.WorkerTaskDefinition as Resource;
    const container = () => (task().Properties.ContainerDefinitions as Json[])[0];

    test('a cluster with Container Insights, and a log group kept 365 days, encrypted with the stack key', () => {
      expect(resourcesOfType(template(), 'AWS::ECS::Cluster').map(([id]) => id)).toEqual(['WorkerCluster']);
      expect(template().Resources.WorkerCluster?.Properties.ClusterSettings).toEqual([
        { Name: 'containerInsights', Value: 'enabled' },
      ]);
      expect(template().Resources.WorkerLogGroup?.Properties).toEqual(
        expect.objectContaining({ RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': ['EftKey', 'Arn'] } }),
      );
    });

    test('the task definition: Fargate, awsvpc, 1 vCPU / 2 GB, Linux on ARM64', () => {
      expect(resourcesOfType(template(), 'AWS::ECS::TaskDefinition').map(([id]) => id)).toEqual(['WorkerTaskDefinition']);
      const p = task().Properties;
      expect({
        compatibilities: p.RequiresCompatibilities,
        network: p.NetworkMode,
        cpu: p.Cpu,
        memory: p.Memory,
        platform: p.RuntimePlatform,
      }).toEqual({
        compatibilities: ['FARGATE'],
        network: 'awsvpc',
        cpu: '1024',
        memory: '2048',
        platform: { OperatingSystemFamily: 'LINUX', CpuArchitecture: 'ARM64' },
      });
    });

    test('one container, worker: the ECR image, non-root, read-only root filesystem, no capabilities, awslogs to its log group', () => {
      expect((task().Properties.ContainerDefinitions as Json[]).length).toBe(1);
      const c = container();
      expect(c.Name).toBe('worker');
      // The stack's repository, the tag `npm run deploy` pushed (resources/ecr.yml).
      expect(c.Image).toEqual({ 'Fn::Sub': `\${WorkerRepository.RepositoryUri}:\${WorkerImageTag}` });
      expect(c.User).toBe('10001');
      expect(c.ReadonlyRootFilesystem).toBe(true);
      expect(c.Privileged).toBeUndefined();
      expect(c.LinuxParameters?.Capabilities).toEqual({ Drop: ['ALL'] });
      expect(c.PortMappings).toBeUndefined();
      expect(c.LogConfiguration).toEqual({
        LogDriver: 'awslogs',
        Options: {
          'awslogs-group': { Ref: 'WorkerLogGroup' },
          'awslogs-region': { Ref: 'AWS::Region' },
          'awslogs-stream-prefix': 'worker',
        },
      });
    });

    test('its environment is the functions’ (tables, staging bucket, peer region, secrets), but the state machine ARN and cursor key', () => {
      const { POWERTOOLS_TRACE_ENABLED: workerTracing, ...env } = Object.fromEntries(
        (container().Environment as Json[]).map((v) => [v.Name, v.Value]),
      );
      // Tracing off: no X-Ray daemon runs beside the worker, and ECS sets AWS_EXECUTION_ENV, which
      // Powertools takes for Lambda.
      expect(workerTracing).toBe('false');
      // The worker never lists, so it has no use for the list cursor key's name; nor does it start
      // transfers by itself (routes, schedules: their tables, queues and minimum rate); nor does it touch
      // webhooks (its job changes reach them through the jobs stream). Its logger and metrics name the
      // service and namespace the POWERTOOLS_* variables repeat for the functions (core/observability),
      // and log at Powertools' default level, INFO.
      const {
        TRANSFER_STATE_MACHINE_ARN,
        CURSOR_KEY_SECRET_ID,
        TRIGGERS_TABLE,
        TRIGGER_STATE_TABLE,
        S3_EVENTS_DEAD_LETTER_QUEUE_URL,
        SCHEDULE_POLLS_QUEUE_URL,
        SCHEDULE_MIN_RATE_SECONDS,
        WEBHOOKS_TABLE,
        WEBHOOK_DELIVERIES_QUEUE_URL,
        WEBHOOK_SECRET_NAME_PREFIX: webhookSecretNamePrefix,
        POWERTOOLS_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL,
        ...functionEnv
      } = functionNamed(template(), 'startTransfer').Properties.Environment.Variables;
      for (const functionsOnly of [
        TRANSFER_STATE_MACHINE_ARN,
        CURSOR_KEY_SECRET_ID,
        TRIGGERS_TABLE,
        TRIGGER_STATE_TABLE,
        S3_EVENTS_DEAD_LETTER_QUEUE_URL,
        SCHEDULE_POLLS_QUEUE_URL,
        SCHEDULE_MIN_RATE_SECONDS,
        WEBHOOKS_TABLE,
        WEBHOOK_DELIVERIES_QUEUE_URL,
        webhookSecretNamePrefix,
      ])
        expect(functionsOnly).toBeDefined();
      expect([POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL]).toEqual([
        METRIC_SERVICE,
        METRIC_NAMESPACE,
        'INFO',
      ]);
      expect(env).toEqual(functionEnv);
      expect(env.JOBS_TABLE).toBe(TABLE_NAMES.jobs);
      expect(env.PEER_REGION).toBe(peer);
      // ECS sets AWS_REGION itself.
      expect(env.AWS_REGION).toBeUndefined();
    });

    test('its execution role may only pull the worker image and write the worker’s logs', () => {
      expect(grantsOf('WorkerExecutionRole', template().Resources.WorkerExecutionRole as Resource)).toEqual(
        [
          'ecr:GetAuthorizationToken *',
          ...['BatchCheckLayerAvailability', 'GetDownloadUrlForLayer', 'BatchGetImage'].map(
            (a) => `ecr:${a} \${WorkerRepository.Arn}`,
          ),
          ...['CreateLogStream', 'PutLogEvents'].map(
            (a) => `logs:${a} arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:\${WorkerLogGroup}:*`,
          ),
        ].sort(),
      );
    });

    test('its task role: the job, its endpoints, lease and audit, endpoint secrets, the staging and customer buckets', () => {
      const { endpoints, jobs, leases, audit } = TABLE_NAMES;
      const objectActions = ['GetObject', 'PutObject', 'DeleteObject', 'AbortMultipartUpload', 'ListMultipartUploadParts'];
      const bucketActions = ['ListBucket', 'ListBucketMultipartUploads'];
      expect(grantsOf('WorkerTaskRole', template().Resources.WorkerTaskRole as Resource)).toEqual(
        [
          `dynamodb:GetItem ${tableArn(jobs)}`,
          `dynamodb:UpdateItem ${tableArn(jobs)}`,
          `dynamodb:GetItem ${tableArn(endpoints)}`,
          `dynamodb:GetItem ${tableArn(leases)}`,
          `dynamodb:UpdateItem ${tableArn(leases)}`,
          `dynamodb:PutItem ${tableArn(audit)}`,
          `dynamodb:BatchWriteItem ${tableArn(audit)}`,
          `secretsmanager:GetSecretValue ${ENDPOINT_SECRETS}`,
          // A batch worker reads its job ids from its own execution's input.
          `states:DescribeExecution arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:${STATE_MACHINE_NAME}:*`,
          ...bucketActions.map((a) => `s3:${a} arn:\${AWS::Partition}:s3:::\${StagingBucket}`),
          ...objectActions.map((a) => `s3:${a} arn:\${AWS::Partition}:s3:::\${StagingBucket}/*`),
          ...bucketActions.map((a) => customerBucket(`s3:${a}`, 'buckets')),
          ...objectActions.map((a) => customerBucket(`s3:${a}`, 'objects')),
        ].sort(),
      );
    });
  });
});

describe('the list cursor key: a secret of the west stack, replicated to east, read by the list functions only', () => {
  const secretsOf = (key: RegionKey) => resourcesOfType(packaged[key].template, 'AWS::SecretsManager::Secret');

  test('west creates it with a generated value, encrypted with the stack key, and a replica in east under that stack key', () => {
    const secrets = secretsOf('west');
    expect(secrets.map(([id]) => id)).toEqual(['CursorKeySecret']);
    const [, secret] = secrets[0] as [string, Resource];
    const { Name, KmsKeyId, GenerateSecretString, SecretString, ReplicaRegions } = secret.Properties;
    expect(Name).toBe(CURSOR_KEY_NAME);
    // Never a value in the template: CloudFormation generates it, at least 256 bits of letters and digits.
    expect(SecretString).toBeUndefined();
    expect(GenerateSecretString.PasswordLength).toBeGreaterThanOrEqual(44);
    // The stack's customer-managed key, not the AWS-managed aws/secretsmanager.
    expect(KmsKeyId).toEqual({ 'Fn::GetAtt': ['EftKey', 'Arn'] });
    expect(packaged.west.template.Resources.EftKey?.Type).toBe('AWS::KMS::Key');
    // The replica is encrypted with the east stack's key, by the alias that stack gives it.
    const eastAlias = resourcesOfType(packaged.east.template, 'AWS::KMS::Alias').map(([, a]) => a.Properties.AliasName);
    expect(ReplicaRegions).toEqual([{ Region: EAST, KmsKeyId: eastAlias[0] }]);
    expect(eastAlias).toEqual([`alias/eft-${STAGE}`]);
  });

  test('east creates no secret, and both regions’ functions name it (east: the replica) by name', () => {
    expect(secretsOf('east')).toEqual([]);
    for (const key of Object.keys(REGIONS) as RegionKey[]) {
      for (const [id, fn] of lambdaFunctions(packaged[key].template)) {
        expect({ key, id, secret: fn.Properties.Environment?.Variables?.CURSOR_KEY_SECRET_ID }).toEqual({
          key,
          id,
          secret: CURSOR_KEY_NAME,
        });
      }
    }
  });

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: only the list functions (endpoints, jobs, routes, schedules) may read it, GetSecretValue on that secret in their region and nothing more',
    (key) => {
      const template = packaged[key].template;
      const onCursorKey = (grant: string) => grant.includes(`:secret:${CURSOR_KEY_NAME}`);
      const readers = Object.fromEntries(
        resourcesOfType(template, 'AWS::IAM::Role')
          .map(([roleId, role]) => [roleId, grantsOf(roleId, role).filter(onCursorKey)] as const)
          .filter(([, grants]) => grants.length > 0),
      );
      expect(readers).toEqual(
        Object.fromEntries(CURSOR_KEY_READERS.map((roleId) => [roleId, [`secretsmanager:GetSecretValue ${CURSOR_KEY_ARN}`]])),
      );
      // No other secretsmanager grant reaches it through a wildcard (the endpoint secrets are eft/<stage>/endpoints/*,
      // the webhook signing secrets eft/<stage>/webhooks/*).
      const wildcards = identityStatements(template)
        .flatMap(({ statement }) => asArray<Json>(statement.Resource).map(resourceText))
        .filter(
          (arn) =>
            arn.includes(':secretsmanager:') &&
            arn.includes('*') &&
            !arn.endsWith(`:secret:${SECRET_NAME_PREFIX}/*`) &&
            !arn.endsWith(`:secret:${WEBHOOK_SECRET_NAME_PREFIX}/*`),
        );
      expect(wildcards).toEqual([]);
    },
  );
});

describe('DNS', () => {
  /** A condition of the template, evaluated with the parameters' defaults (what a deploy without overrides gets). */
  function conditionHolds(template: Json, name: string): boolean {
    const value = (node: Json): Json => {
      if (node && typeof node === 'object' && 'Ref' in node) return template.Parameters[node.Ref].Default;
      return node;
    };
    const evaluate = (node: Json): boolean => {
      if ('Condition' in node) return evaluate(template.Conditions[node.Condition]);
      if ('Fn::And' in node) return node['Fn::And'].every(evaluate);
      if ('Fn::Not' in node) return !evaluate(node['Fn::Not'][0]);
      if ('Fn::Equals' in node) return value(node['Fn::Equals'][0]) === value(node['Fn::Equals'][1]);
      throw new Error(`condition function not understood: ${JSON.stringify(node)}`);
    };
    return evaluate(template.Conditions[name]);
  }

  describe.each(Object.keys(REGIONS) as RegionKey[])('%s', (key) => {
    const template = () => packaged[key].template as Json;
    const label = key;

    test('a Route 53 health check of this region’s API: TCP 443 of its front door and its 5xx-rate alarm, both required', () => {
      const { Resources } = template();
      expect(Resources.ApiHealthCheck.Properties.HealthCheckConfig).toEqual({
        Type: 'CALCULATED',
        ChildHealthChecks: [{ Ref: 'ApiEndpointHealthCheck' }, { Ref: 'ApiErrorRateHealthCheck' }],
        HealthThreshold: 2,
      });
      expect(Resources.ApiEndpointHealthCheck.Properties.HealthCheckConfig).toMatchObject({
        Type: 'TCP',
        FullyQualifiedDomainName: { 'Fn::Sub': `\${ApiGatewayRestApi}.execute-api.\${AWS::Region}.\${AWS::URLSuffix}` },
        Port: 443,
      });
      expect(Resources.ApiErrorRateHealthCheck.Properties.HealthCheckConfig).toEqual({
        Type: 'CLOUDWATCH_METRIC',
        AlarmIdentifier: { Name: { Ref: 'ApiErrorRateAlarm' }, Region: { Ref: 'AWS::Region' } },
        InsufficientDataHealthStatus: 'LastKnownStatus',
      });
      // The API's own 5xx share (Average of 5XXError: Route 53 takes no metric math); no requests is healthy.
      expect(Resources.ApiErrorRateAlarm.Properties).toMatchObject({
        Namespace: 'AWS/ApiGateway',
        MetricName: '5XXError',
        Dimensions: [{ Name: 'ApiName', Value: Resources.ApiGatewayRestApi.Properties.Name }],
        Statistic: 'Average',
        TreatMissingData: 'notBreaching',
      });
      expect(template().Outputs.ApiHealthCheckId).toMatchObject({
        Value: { Ref: 'ApiHealthCheck' },
        Export: { Name: `eft-${STAGE}-api-health-check-id` },
      });
    });

    test(`private-zone records: ${key === 'west' ? 'PRIMARY' : 'SECONDARY'} of the failover name with this region’s health check, and ${label}.<domain>; skipped by default`, () => {
      const { Resources, Parameters } = template();
      const records = resourcesOfType(template(), 'AWS::Route53::RecordSet');
      expect(records.map(([id]) => id).sort()).toEqual(['ApiFailoverRecord', 'ApiRegionRecord']);
      expect(Resources.ApiFailoverRecord.Properties).toMatchObject({
        HostedZoneId: { Ref: 'PrivateZoneId' },
        Name: { Ref: 'ApiDomain' },
        Type: 'CNAME',
        SetIdentifier: label,
        Failover: key === 'west' ? 'PRIMARY' : 'SECONDARY',
        HealthCheckId: { Ref: 'ApiHealthCheck' },
        ResourceRecords: [{ 'Fn::GetAtt': ['ApiDomainName', 'RegionalDomainName'] }],
      });
      expect(Resources.ApiRegionRecord.Properties.Name).toEqual({ 'Fn::Sub': `${label}.\${ApiDomain}` });
      for (const [, record] of records) expect(record).toMatchObject({ Condition: 'HasPrivateRecords' });
      // Packaged without the params: the zone, the domain and the certificate are empty, so no record and no custom domain name.
      expect([Parameters.PrivateZoneId.Default, Parameters.ApiDomain.Default, Parameters.ApiCertificateArn.Default]).toEqual([
        '',
        '',
        '',
      ]);
      expect(conditionHolds(template(), 'HasPrivateRecords')).toBe(false);
      expect(conditionHolds(template(), 'HasApiDomain')).toBe(false);
      for (const [, name] of resourcesOfType(template(), 'AWS::ApiGateway::DomainName') as [string, Json][])
        expect(name.Condition).toBe('HasApiDomain');
      // GovCloud has no public hosted zones: the region stacks create none.
      expect(resourcesOfType(template(), 'AWS::Route53::HostedZone')).toEqual([]);
    });
  });

  test('the public template (deployed where the public zone is) makes its own health checks: a GovCloud check id does not cross partitions', async () => {
    const { parse } = await import('yaml');
    const publicTemplate = parse(readFileSync(join(ROOT, 'resources', 'public-dns', 'template.yml'), 'utf8'));
    const records = Object.values(publicTemplate.Resources as Record<string, Resource>).filter(
      (r) => r.Type === 'AWS::Route53::RecordSet',
    );
    const failover = records.filter((r) => r.Properties.Failover);
    expect(failover.map((r) => [r.Properties.Failover, r.Properties.HealthCheckId, r.Properties.ResourceRecords])).toEqual([
      ['PRIMARY', { Ref: 'WestHealthCheck' }, [{ Ref: 'WestFailoverTarget' }]],
      ['SECONDARY', { Ref: 'EastHealthCheck' }, [{ Ref: 'EastFailoverTarget' }]],
    ]);
    for (const check of ['WestHealthCheck', 'EastHealthCheck'])
      expect(publicTemplate.Resources[check].Type).toBe('AWS::Route53::HealthCheck');
    // No parameter takes a health check id from elsewhere.
    expect(Object.keys(publicTemplate.Parameters).filter((p) => /health ?check ?id/i.test(p))).toEqual([]);
  });
});

describe('staging replication', () => {
  const stagingBucketIn = (region: string) => `eft-${STAGE}-staging-${region}-\${AWS::AccountId}`;
  /** The packaged template as plain JSON (Parameters, Conditions and a resource's Condition included). */
  const raw = (key: RegionKey): Json => packaged[key].template;

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: the staging bucket replicates staging/ to the peer region’s, SSE-KMS with the peer’s key, within 15 minutes (RTC)',
    (key) => {
      const template = raw(key);
      const { peer } = REGIONS[key];
      const bucket = template.Resources.StagingBucket;
      expect(bucket.Properties.ReplicationConfiguration).toEqual({
        'Fn::If': [
          'StagingReplication',
          {
            Role: { 'Fn::GetAtt': ['StagingReplicationRole', 'Arn'] },
            Rules: [
              {
                Id: 'StagingToPeerRegion',
                Status: 'Enabled',
                Priority: 0,
                Filter: { Prefix: 'staging/' },
                DeleteMarkerReplication: { Status: 'Disabled' },
                SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
                Destination: {
                  Bucket: { 'Fn::Sub': `arn:\${AWS::Partition}:s3:::${stagingBucketIn(peer)}` },
                  EncryptionConfiguration: {
                    ReplicaKmsKeyID: { 'Fn::Sub': `arn:\${AWS::Partition}:kms:${peer}:\${AWS::AccountId}:alias/eft-${STAGE}` },
                  },
                  ReplicationTime: { Status: 'Enabled', Time: { Minutes: 15 } },
                  Metrics: { Status: 'Enabled', EventThreshold: { Minutes: 15 } },
                },
              },
            ],
          },
          { Ref: 'AWS::NoValue' },
        ],
      });
      // Replication needs versioning on both sides: every staging bucket has it.
      expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      // The peer's staging bucket is the one its own stack creates (same name pattern).
      expect(raw(key === 'west' ? 'east' : 'west').Resources.StagingBucket.Properties.BucketName).toEqual({
        'Fn::Sub': `eft-${STAGE}-staging-\${AWS::Region}-\${AWS::AccountId}`,
      });
    },
  );

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: on unless the stack parameter StagingReplication (default: the osls param, true) says false (first deploy)',
    (key) => {
      const template = raw(key);
      expect(template.Parameters?.StagingReplication).toMatchObject({
        Type: 'String',
        AllowedValues: ['true', 'false'],
        Default: 'true',
      });
      expect(template.Conditions?.StagingReplication).toEqual({ 'Fn::Equals': [{ Ref: 'StagingReplication' }, 'true'] });
      expect(template.Resources.StagingReplicationRole?.Condition).toBe('StagingReplication');
    },
  );

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: the replication role, assumable by S3 for this account only, reads staging/ here and writes replicas under staging/ in the peer’s bucket, nothing else',
    (key) => {
      const template = raw(key);
      const { region, peer } = REGIONS[key];
      const role = template.Resources.StagingReplicationRole;
      expect(role.Type).toBe('AWS::IAM::Role');
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Principal: { Service: 's3.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: {
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            ArnLike: { 'aws:SourceArn': { 'Fn::Sub': `arn:\${AWS::Partition}:s3:::${stagingBucketIn(`\${AWS::Region}`)}` } },
          },
        },
      ]);
      const here = `arn:\${AWS::Partition}:s3:::${stagingBucketIn(`\${AWS::Region}`)}`;
      const there = `arn:\${AWS::Partition}:s3:::${stagingBucketIn(peer)}`;
      expect(grantsOf('StagingReplicationRole', role)).toEqual(
        [
          `s3:GetReplicationConfiguration ${here}`,
          `s3:ListBucket ${here}`,
          `s3:GetObjectVersionForReplication ${here}/staging/*`,
          `s3:GetObjectVersionAcl ${here}/staging/*`,
          `s3:GetObjectVersionTagging ${here}/staging/*`,
          `s3:ReplicateObject ${there}/staging/*`,
          `s3:ReplicateTags ${there}/staging/*`,
        ].sort(),
      );
      expect(region).not.toBe(peer);
    },
  );

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: staged copies and their replicas expire after a week, removed versions a day later',
    (key) => {
      const rules = raw(key).Resources.StagingBucket.Properties.LifecycleConfiguration.Rules as Json[];
      expect(rules.filter((r) => r.Id !== 'AbortIncompleteMultipartUploads')).toEqual([
        { Id: 'ExpireStagedCopies', Status: 'Enabled', Prefix: 'staging/', ExpirationInDays: 7 },
        {
          Id: 'ExpireRemovedVersions',
          Status: 'Enabled',
          Prefix: 'staging/',
          NoncurrentVersionExpiration: { NoncurrentDays: 1 },
          ExpiredObjectDeleteMarker: true,
        },
      ]);
    },
  );

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: the worker reads only its own region’s staging bucket (the replica is there): no grant on the peer’s',
    (key) => {
      const template = raw(key);
      const { peer } = REGIONS[key];
      const onPeerBucket = resourcesOfType(template, 'AWS::IAM::Role')
        .filter(([id]) => id !== 'StagingReplicationRole')
        .flatMap(([id, role]) => grantsOf(id, role).map((grant) => `${id}: ${grant}`))
        .filter((grant) => grant.includes(stagingBucketIn(peer)));
      expect(onPeerBucket).toEqual([]);
    },
  );
});

describe('issue 16: deploy (ECR, network)', () => {
  /** The packaged template as plain JSON (Parameters, Conditions and a resource's Condition included). */
  const raw = (key: RegionKey): Json => packaged[key].template;
  const regionKeys = Object.keys(REGIONS) as RegionKey[];
  /** The functions that talk to partners: in the egress network with the worker (resources/vpc.yml). */
  const PARTNER_FACING = ['validateEndpoint', 'createTransfers', 'verifyTransfer', 'pollSchedule', 'smallTransfer'];
  const ifCreated = (created: Json, existing: string) => ({ 'Fn::If': ['CreateVpc', created, { Ref: existing }] });
  const SUBNETS = ifCreated([{ Ref: 'PrivateSubnetA' }, { Ref: 'PrivateSubnetB' }], 'WorkerSubnets');
  const SECURITY_GROUPS = ifCreated([{ Ref: 'EgressSecurityGroup' }], 'WorkerSecurityGroups');
  const EGRESS_IPS = { 'Fn::Join': [',', ifCreated([{ Ref: 'NatEipA' }, { Ref: 'NatEipB' }], 'EgressIps')] };
  /** A CloudFormation AllowedPattern as JavaScript applies it (these patterns use nothing Java's regex reads otherwise). */
  const allowed = (template: Json, parameter: string) => new RegExp(template.Parameters[parameter].AllowedPattern);

  test.each(regionKeys)(
    '%s: the worker’s ECR repository: scan on push, immutable tags, the stack key, a lifecycle, kept on delete',
    (key) => {
      const repository = raw(key).Resources.WorkerRepository;
      expect(repository.Type).toBe('AWS::ECR::Repository');
      expect(repository.DeletionPolicy).toBe('Retain');
      expect(repository.Properties).toMatchObject({
        RepositoryName: `eft-${STAGE}-worker`,
        ImageTagMutability: 'IMMUTABLE',
        ImageScanningConfiguration: { ScanOnPush: true },
        EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: { 'Fn::GetAtt': ['EftKey', 'Arn'] } },
      });
      const rules = JSON.parse(repository.Properties.LifecyclePolicy.LifecyclePolicyText).rules as Json[];
      expect(rules.map((r) => [r.selection.tagStatus, r.selection.countType, r.action.type])).toEqual([
        ['untagged', 'sinceImagePushed', 'expire'],
        ['any', 'imageCountMoreThan', 'expire'],
      ]);
    },
  );

  test.each(regionKeys)(
    '%s: the task definition runs the tag the deploy pushed (parameter WorkerImageTag) from that repository',
    (key) => {
      const template = raw(key);
      const image = template.Resources.WorkerTaskDefinition.Properties.ContainerDefinitions[0].Image;
      expect(image).toEqual({ 'Fn::Sub': `\${WorkerRepository.RepositoryUri}:\${WorkerImageTag}` });
      // Packaged without --param workerImageTag: a name no image has, so nothing else can be run by mistake.
      expect(template.Parameters.WorkerImageTag).toMatchObject({ Type: 'String', Default: 'unbuilt' });
      expect(allowed(template, 'WorkerImageTag').test('0123456789ab-20261203T052400Z')).toBe(true);
      expect(template.Outputs.WorkerRepositoryUri.Value).toEqual({ 'Fn::GetAtt': ['WorkerRepository', 'RepositoryUri'] });
    },
  );

  test.each(regionKeys)('%s: the network is chosen at deploy (Network: create, the default, or existing)', (key) => {
    const template = raw(key);
    expect(template.Parameters.Network).toMatchObject({ AllowedValues: ['create', 'existing'], Default: 'create' });
    expect(template.Conditions.CreateVpc).toEqual({ 'Fn::Equals': [{ Ref: 'Network' }, 'create'] });
    for (const name of ['WorkerSubnets', 'WorkerSecurityGroups', 'EgressIps']) {
      expect({ name, type: template.Parameters[name].Type }).toEqual({ name, type: 'CommaDelimitedList' });
    }
  });

  test.each(regionKeys)(
    '%s: Network=create: private and public subnets in two AZs, a NAT gateway with an Elastic IP in each',
    (key) => {
      const r = raw(key).Resources;
      const created = Object.entries(r as Record<string, Json>).filter(([, res]) => res.Condition === 'CreateVpc');
      expect(created.map(([, res]) => res.Type).sort()).toEqual(
        [
          'AWS::EC2::VPC',
          'AWS::EC2::InternetGateway',
          'AWS::EC2::VPCGatewayAttachment',
          ...Array(4).fill('AWS::EC2::Subnet'),
          ...Array(3).fill('AWS::EC2::RouteTable'),
          ...Array(3).fill('AWS::EC2::Route'),
          ...Array(4).fill('AWS::EC2::SubnetRouteTableAssociation'),
          ...Array(2).fill('AWS::EC2::EIP'),
          ...Array(2).fill('AWS::EC2::NatGateway'),
          ...Array(2).fill('AWS::EC2::VPCEndpoint'),
          'AWS::EC2::SecurityGroup',
        ].sort(),
      );
      for (const [az, side] of [
        [0, 'A'],
        [1, 'B'],
      ] as const) {
        expect(r[`PrivateSubnet${side}`].Properties.AvailabilityZone).toEqual({ 'Fn::Select': [az, { 'Fn::GetAZs': '' }] });
        expect(r[`PublicSubnet${side}`].Properties.AvailabilityZone).toEqual({ 'Fn::Select': [az, { 'Fn::GetAZs': '' }] });
        expect(r[`PrivateSubnet${side}`].Properties.MapPublicIpOnLaunch).toBe(false);
        // Each AZ's private subnets leave through that AZ's NAT gateway, which has its Elastic IP and sits in the public subnet.
        expect(r[`PrivateDefaultRoute${side}`].Properties).toEqual({
          RouteTableId: { Ref: `PrivateRouteTable${side}` },
          DestinationCidrBlock: '0.0.0.0/0',
          NatGatewayId: { Ref: `NatGateway${side}` },
        });
        expect(r[`PrivateSubnet${side}RouteTable`].Properties).toEqual({
          SubnetId: { Ref: `PrivateSubnet${side}` },
          RouteTableId: { Ref: `PrivateRouteTable${side}` },
        });
        expect(r[`NatGateway${side}`].Properties).toMatchObject({
          AllocationId: { 'Fn::GetAtt': [`NatEip${side}`, 'AllocationId'] },
          SubnetId: { Ref: `PublicSubnet${side}` },
        });
        expect(r[`NatEip${side}`].Properties.Domain).toBe('vpc');
      }
      // S3 and DynamoDB through gateway endpoints on both private route tables.
      const endpoints = Object.values(r as Record<string, Json>).filter((res) => res.Type === 'AWS::EC2::VPCEndpoint');
      expect(
        endpoints.map((e) => [e.Properties.VpcEndpointType, e.Properties.ServiceName['Fn::Sub'], e.Properties.RouteTableIds]),
      ).toEqual([
        ['Gateway', `com.amazonaws.\${AWS::Region}.s3`, [{ Ref: 'PrivateRouteTableA' }, { Ref: 'PrivateRouteTableB' }]],
        ['Gateway', `com.amazonaws.\${AWS::Region}.dynamodb`, [{ Ref: 'PrivateRouteTableA' }, { Ref: 'PrivateRouteTableB' }]],
      ]);
      // The egress group: outbound TCP only, nothing inbound.
      expect(r.EgressSecurityGroup.Properties.SecurityGroupIngress).toBeUndefined();
      expect(r.EgressSecurityGroup.Properties.SecurityGroupEgress.map((e: Json) => e.IpProtocol)).toEqual(['tcp']);
    },
  );

  test.each(regionKeys)('%s: no placeholder network value is accepted, and none is in the template', (key) => {
    const template = raw(key);
    const subnets = allowed(template, 'WorkerSubnets');
    const groups = allowed(template, 'WorkerSecurityGroups');
    const ips = allowed(template, 'EgressIps');
    // CloudFormation applies a CommaDelimitedList's AllowedPattern to each item.
    expect(['subnet-00000000000000000', 'subnet-00000000', 'subnet-XYZ', 'sg-0123'].filter((v) => subnets.test(v))).toEqual([]);
    expect(['sg-00000000000000000', 'sg-00000000', 'subnet-0123456789abcdef0'].filter((v) => groups.test(v))).toEqual([]);
    expect(['subnet-0123456789abcdef0', 'subnet-89abcdef', ''].every((v) => subnets.test(v))).toBe(true);
    expect(['sg-0a1b2c3d4e5f60718', 'sg-89abcdef', ''].every((v) => groups.test(v))).toBe(true);
    expect(['3.30.0.10', ''].every((v) => ips.test(v))).toBe(true);
    expect(['3.30.0', '300.1.1.1', 'example.com'].filter((v) => ips.test(v))).toEqual([]);
    // Packaged without network params: empty defaults (Network=create uses none of them), never a placeholder.
    for (const name of ['WorkerSubnets', 'WorkerSecurityGroups', 'EgressIps']) {
      expect({ name, default: template.Parameters[name].Default }).toEqual({ name, default: '' });
    }
    const placeholders = allStrings(template).filter(({ value }) => /^(subnet|sg)-0+$/.test(value));
    expect(placeholders).toEqual([]);
  });

  test.each(regionKeys)('%s: the worker and every partner-facing function run in the same subnets and security groups', (key) => {
    const template = raw(key);
    const { definition, params } = transferDefinition(template);
    for (const state of ['RunWorker', 'RunBatchWorker']) {
      const network = definition.States[state].Parameters.NetworkConfiguration.AwsvpcConfiguration;
      // One "${hash}" inside the definition's JSON list, replaced by the ids joined with '","' (serverless.yml custom.worker).
      expect(network.Subnets.map((v: string) => resolvedIn(params, v))).toEqual([{ 'Fn::Join': ['","', SUBNETS] }]);
      expect(network.SecurityGroups.map((v: string) => resolvedIn(params, v))).toEqual([
        { 'Fn::Join': ['","', SECURITY_GROUPS] },
      ]);
    }
    const inVpc = lambdaFunctions(template)
      .filter(([, fn]) => fn.Properties.VpcConfig)
      .map(([, fn]) => fn.Properties.FunctionName);
    expect(inVpc.sort()).toEqual(PARTNER_FACING.map((name) => `eft-${STAGE}-${name}`).sort());
    for (const name of PARTNER_FACING) {
      expect({ name, vpc: functionNamed(template, name).Properties.VpcConfig }).toEqual({
        name,
        vpc: {
          SubnetIds: { 'Fn::Split': [',', { 'Fn::Join': [',', SUBNETS] }] },
          SecurityGroupIds: { 'Fn::Split': [',', { 'Fn::Join': [',', SECURITY_GROUPS] }] },
        },
      });
    }
    // Their roles may manage the functions' network interfaces, before the functions are created.
    const policy = template.Resources.PartnerFacingFunctionsNetworkInterfaces;
    expect(policy.Properties.Roles).toEqual([
      { Ref: 'ValidateEndpointRole' },
      { Ref: 'CreateTransfersRole' },
      { Ref: 'VerifyTransferRole' },
      { Ref: 'SmallTransferRole' },
    ]);
    for (const name of ['validateEndpoint', 'createTransfers', 'verifyTransfer', 'smallTransfer']) {
      expect({ name, dependsOn: functionNamed(template, name) }).toMatchObject({
        name,
        dependsOn: { DependsOn: expect.arrayContaining(['PartnerFacingFunctionsNetworkInterfaces']) },
      });
    }
  });

  test.each(regionKeys)('%s: GET /egress (AWS_IAM) answers the egress addresses, also a stack output', (key) => {
    const template = raw(key);
    const method = resourcesOfType(template, 'AWS::ApiGateway::Method').find(([, m]) => routeOf(template, m) === 'GET /egress');
    expect(method?.[1].Properties.AuthorizationType).toBe('AWS_IAM');
    const fn = functionNamed(template, 'getEgress');
    expect(fn.Properties.Handler).toBe('functions/egress/get.handler');
    expect(fn.Properties.Environment.Variables.EGRESS_IPS).toEqual(EGRESS_IPS);
    expect(template.Outputs.EgressIps.Value).toEqual(EGRESS_IPS);
    const [roleId, role] = roleOf(template, fn);
    expect(grantsOf(roleId, role)).toEqual(
      [...functionBasics('getEgress'), `dynamodb:GetItem ${tableArn(TABLE_NAMES.principals)}`].sort(),
    );
    expect(template.Resources.GetEgressLogGroup.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': ['EftKey', 'Arn'] });
  });
});

describe('issue 16: alarms, topic and dashboard', () => {
  const raw = (key: RegionKey): Json => packaged[key].template;
  const TOPIC = { Ref: 'AlarmTopic' };
  const SERVICE_DIMENSION = { Name: 'service', Value: METRIC_SERVICE };
  /** Each alarm of resources/alarms.yml: what it reads and when it fires (metric-math alarms: the metrics it combines). */
  const ALARMS: Record<string, { name: string; reads: string[]; threshold: number; missing: string }> = {
    FailedJobRateAlarm: {
      name: 'failed-job-rate',
      reads: ['eft JobsFailed', 'eft JobsSucceeded'],
      threshold: 0.2,
      missing: 'notBreaching',
    },
    StuckJobsAlarm: { name: 'stuck-jobs', reads: ['eft StuckJobs'], threshold: 0, missing: 'breaching' },
    WorkerFailedAlarm: { name: 'worker-failed', reads: ['eft JobsFailed'], threshold: 0, missing: 'notBreaching' },
    ExecutionsFailedAlarm: {
      name: 'executions-failed',
      reads: ['AWS/States ExecutionsFailed', 'AWS/States ExecutionsSucceeded'],
      threshold: 0.5,
      missing: 'notBreaching',
    },
    ExecutionsTimedOutAlarm: {
      name: 'executions-timed-out',
      reads: ['AWS/States ExecutionsTimedOut'],
      threshold: 0,
      missing: 'notBreaching',
    },
    ApiServerErrorsAlarm: {
      name: 'api-server-errors',
      reads: ['AWS/ApiGateway 5XXError', 'AWS/ApiGateway Count'],
      threshold: 0.05,
      missing: 'notBreaching',
    },
    ReconcilerErrorsAlarm: { name: 'reconciler-errors', reads: ['AWS/Lambda Errors'], threshold: 0, missing: 'notBreaching' },
    FastPathErrorsAlarm: {
      name: 'fast-path-errors',
      reads: ['AWS/Lambda Errors', 'AWS/Lambda Invocations'],
      threshold: 0.5,
      missing: 'notBreaching',
    },
    TableReplicationLagAlarm: {
      name: 'table-replication-lag',
      reads: Array(Object.keys(TABLE_NAMES).length).fill('AWS/DynamoDB ReplicationLatency'),
      threshold: 60000,
      missing: 'notBreaching',
    },
    StagingReplicationLagAlarm: {
      name: 'staging-replication-lag',
      reads: ['AWS/S3 ReplicationLatency'],
      threshold: 900,
      missing: 'notBreaching',
    },
    StagingReplicationFailedAlarm: {
      name: 'staging-replication-failed',
      reads: ['AWS/S3 OperationsFailedReplication'],
      threshold: 0,
      missing: 'notBreaching',
    },
    // Defined with their resources (routes, schedules, notifications, DNS); resources/alarms.yml gives them the topic.
    S3EventsDeadLetterAlarm: {
      name: 's3-events-dlq',
      reads: ['AWS/SQS ApproximateNumberOfMessagesVisible'],
      threshold: 0,
      missing: 'notBreaching',
    },
    SchedulePollsDeadLetterAlarm: {
      name: 'schedule-polls-dlq',
      reads: ['AWS/SQS ApproximateNumberOfMessagesVisible'],
      threshold: 0,
      missing: 'notBreaching',
    },
    WebhookDeliveriesDeadLetterAlarm: {
      name: 'webhook-deliveries-dlq',
      reads: ['AWS/SQS ApproximateNumberOfMessagesVisible'],
      threshold: 0,
      missing: 'notBreaching',
    },
    JobEventsDeadLetterAlarm: {
      name: 'job-events-dlq',
      reads: ['AWS/SQS ApproximateNumberOfMessagesVisible'],
      threshold: 0,
      missing: 'notBreaching',
    },
    ApiErrorRateAlarm: { name: 'api-5xx-rate', reads: ['AWS/ApiGateway 5XXError'], threshold: 0.5, missing: 'notBreaching' },
  };
  /** The metrics an alarm reads: its own, or those of its metric-math expression, with their dimensions. */
  function metricsOf(alarm: Resource): { id: string; metric: string; dimensions: Json[] }[] {
    const p = alarm.Properties;
    if (p.MetricName) return [{ id: 'm', metric: `${p.Namespace} ${p.MetricName}`, dimensions: p.Dimensions ?? [] }];
    return (p.Metrics as Json[])
      .filter((m) => m.MetricStat)
      .map((m) => ({
        id: m.Id,
        metric: `${m.MetricStat.Metric.Namespace} ${m.MetricStat.Metric.MetricName}`,
        dimensions: m.MetricStat.Metric.Dimensions ?? [],
      }));
  }
  const dimension = (dimensions: Json[], name: string): Json => dimensions.find((d) => d.Name === name)?.Value;

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: one SNS topic, encrypted with the stack key, which only this stack’s alarms may publish to (and use the key for)',
    (key) => {
      const template = raw(key);
      const topics = resourcesOfType(template, 'AWS::SNS::Topic');
      expect(topics.map(([id]) => id)).toEqual(['AlarmTopic']);
      expect(template.Resources.AlarmTopic.Properties).toMatchObject({
        TopicName: `eft-${STAGE}-alarms`,
        KmsMasterKeyId: { 'Fn::GetAtt': ['EftKey', 'Arn'] },
      });
      const alarmsOfThisStack = `arn:\${AWS::Partition}:cloudwatch:\${AWS::Region}:\${AWS::AccountId}:alarm:eft-${STAGE}-*`;
      const [publish, tls] = template.Resources.AlarmTopicPolicy.Properties.PolicyDocument.Statement as Statement[];
      expect(template.Resources.AlarmTopicPolicy.Properties.Topics).toEqual([TOPIC]);
      expect(publish).toMatchObject({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
      });
      expect(publish?.Condition).toEqual({
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: { 'aws:SourceArn': { 'Fn::Sub': alarmsOfThisStack } },
      });
      expect(tls).toMatchObject({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
      const keyPolicy = template.Resources.EftKey.Properties.KeyPolicy.Statement as Statement[];
      const cloudWatch = keyPolicy.find((s) => s.Principal?.Service === 'cloudwatch.amazonaws.com');
      expect(cloudWatch).toMatchObject({ Effect: 'Allow', Action: ['kms:GenerateDataKey*', 'kms:Decrypt'] });
      expect(cloudWatch?.Condition?.ArnLike).toEqual({ 'aws:SourceArn': { 'Fn::Sub': alarmsOfThisStack } });
      expect(template.Outputs.AlarmTopicArn.Value).toEqual(TOPIC);
    },
  );

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: the operator’s email is subscribed only when given (param alarmEmail, none by default)',
    (key) => {
      const template = raw(key);
      expect(template.Parameters.AlarmEmail).toMatchObject({ Type: 'String', Default: '' });
      expect(template.Conditions.HasAlarmEmail).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmEmail' }, ''] }] });
      expect(template.Resources.AlarmEmailSubscription).toMatchObject({
        Condition: 'HasAlarmEmail',
        Properties: { TopicArn: TOPIC, Protocol: 'email', Endpoint: { Ref: 'AlarmEmail' } },
      });
    },
  );

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: every alarm of the stack is one of these, reads its metric, fires above its threshold and notifies the topic (and again when OK)',
    (key) => {
      const template = raw(key);
      const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm');
      expect(alarms.map(([id]) => id).sort()).toEqual(Object.keys(ALARMS).sort());
      for (const [id, alarm] of alarms) {
        const expected = ALARMS[id] as (typeof ALARMS)[string];
        const p = alarm.Properties;
        expect({
          id,
          name: p.AlarmName,
          reads: metricsOf(alarm)
            .map((m) => m.metric)
            .sort(),
          threshold: p.Threshold,
          comparison: p.ComparisonOperator,
          missing: p.TreatMissingData,
          actions: p.AlarmActions,
          ok: p.OKActions,
        }).toEqual({
          id,
          name: `eft-${STAGE}-${expected.name}`,
          reads: [...expected.reads].sort(),
          threshold: expected.threshold,
          comparison: 'GreaterThanThreshold',
          missing: expected.missing,
          actions: [TOPIC],
          ok: [TOPIC],
        });
      }
    },
  );

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: the engine’s metrics are read in namespace eft by the contract’s names and dimension service=eft',
    (key) => {
      const template = raw(key);
      const own = resourcesOfType(template, 'AWS::CloudWatch::Alarm')
        .flatMap(([, alarm]) => metricsOf(alarm))
        .filter((m) => m.metric.startsWith(`${METRIC_NAMESPACE} `));
      expect(own.length).toBeGreaterThan(0);
      for (const m of own) {
        expect({ metric: m.metric, known: isMetricName(m.metric.split(' ')[1] as string) }).toEqual({
          metric: m.metric,
          known: true,
        });
        expect(m.dimensions).toContainEqual(SERVICE_DIMENSION);
      }
      // The worker failures: JobsFailed of the WORKER_FAILED code (the breakdown by ErrorCode).
      const workerFailed = metricsOf(template.Resources.WorkerFailedAlarm)[0];
      expect(workerFailed?.dimensions).toEqual([
        SERVICE_DIMENSION,
        { Name: METRIC_BREAKDOWNS.errorCode, Value: 'WORKER_FAILED' },
      ]);
      // The failed-job rate: JobsFailed over all ended jobs, from a minimum count.
      const rate = (template.Resources.FailedJobRateAlarm.Properties.Metrics as Json[]).find((m) => m.ReturnData);
      expect(rate.Expression).toBe('IF(ended >= 5, FILL(failed, 0) / ended, 0)');
    },
  );

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: the built-in metrics name this stack’s state machine, API, reconciler, queues, tables (to the peer) and staging bucket',
    (key) => {
      const template = raw(key);
      const { peer } = REGIONS[key];
      const dims = (id: string) => metricsOf(template.Resources[id]).map((m) => m.dimensions);
      for (const id of ['ExecutionsFailedAlarm', 'ExecutionsTimedOutAlarm']) {
        for (const d of dims(id)) expect(dimension(d, 'StateMachineArn')).toEqual({ Ref: 'TransferStateMachine' });
      }
      for (const d of dims('ApiServerErrorsAlarm')) {
        expect(d).toEqual([
          { Name: 'ApiName', Value: template.Resources.ApiGatewayRestApi.Properties.Name },
          { Name: 'Stage', Value: STAGE },
        ]);
      }
      expect(dims('ReconcilerErrorsAlarm')).toEqual([
        [{ Name: 'FunctionName', Value: functionNamed(template, 'reconcileJobs').Properties.FunctionName }],
      ]);
      const smallTransfer = [{ Name: 'FunctionName', Value: functionNamed(template, 'smallTransfer').Properties.FunctionName }];
      expect(dims('FastPathErrorsAlarm')).toEqual([smallTransfer, smallTransfer]);
      for (const dlq of DEAD_LETTER_QUEUES) {
        const queueName = template.Resources[dlq].Properties.QueueName;
        const watching = resourcesOfType(template, 'AWS::CloudWatch::Alarm').filter(([, a]) =>
          metricsOf(a).some(
            (m) =>
              m.metric === 'AWS/SQS ApproximateNumberOfMessagesVisible' && dimension(m.dimensions, 'QueueName') === queueName,
          ),
        );
        expect({ dlq, alarms: watching.length }).toEqual({ dlq, alarms: 1 });
      }
      const tables = dims('TableReplicationLagAlarm');
      expect(tables.map((d) => dimension(d, 'TableName')).sort()).toEqual(Object.values(TABLE_NAMES).sort());
      for (const d of tables) expect(dimension(d, 'ReceivingRegion')).toBe(peer);
      for (const id of ['StagingReplicationLagAlarm', 'StagingReplicationFailedAlarm']) {
        expect(template.Resources[id].Condition).toBe('StagingReplication');
        expect(dims(id)).toEqual([
          [
            { Name: 'SourceBucket', Value: { Ref: 'StagingBucket' } },
            { Name: 'DestinationBucket', Value: { 'Fn::Sub': `eft-${STAGE}-staging-${peer}-\${AWS::AccountId}` } },
            { Name: 'RuleId', Value: 'StagingToPeerRegion' },
          ],
        ]);
      }
    },
  );

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: a dashboard per region shows every metric of the contract, every queue and every alarm, in its own region and partition',
    (key) => {
      const template = raw(key);
      const dashboards = resourcesOfType(template, 'AWS::CloudWatch::Dashboard');
      expect(dashboards.map(([id]) => id)).toEqual(['Dashboard']);
      const p = template.Resources.Dashboard.Properties;
      expect(p.DashboardName).toEqual({ 'Fn::Sub': `eft-${STAGE}-\${AWS::Region}` });
      const [text, variables] = p.DashboardBody['Fn::Sub'] as [string, Json];
      // Its own region is CloudFormation's; only the peer (replication's receiving region) is named.
      expect(text).not.toContain('arn:aws');
      expect(text).not.toContain(REGIONS[key].region);
      expect(text).toContain(REGIONS[key].peer);
      // The staging replication alarms are listed only where they exist.
      expect(variables.StagingReplicationAlarms['Fn::If'][0]).toBe('StagingReplication');
      const body = JSON.parse(text.replace(`\${StagingReplicationAlarms}`, '').replace(/\$\{([^}]+)\}/g, '<$1>'));
      const widgets = body.widgets as Json[];
      const metricWidgets = widgets.filter((w) => w.type === 'metric');
      for (const w of metricWidgets)
        expect({ title: w.properties.title, region: w.properties.region }).toEqual({
          title: w.properties.title,
          region: '<AWS::Region>',
        });
      const rows = metricWidgets.flatMap((w) => w.properties.metrics as Json[]);
      const own = new Set(rows.filter((r) => r[0] === METRIC_NAMESPACE).map((r) => r[1] as string));
      const searched = rows
        .flatMap((r) => (typeof r[0] === 'object' ? [String(r[0].expression)] : []))
        .flatMap((e) => [...e.matchAll(/MetricName="(\w+)"/g)].map((m) => m[1] as string));
      expect([...own, ...searched].filter((name) => !isMetricName(name))).toEqual([]);
      expect(METRIC_NAMES.filter((name) => !own.has(name))).toEqual([]);
      // Breakdowns by flow and by error code.
      expect(searched.sort()).toEqual(['BytesMoved', 'JobDuration', 'JobsFailed', 'Throughput']);
      // The work queues' depth and age, and every dead-letter queue.
      const queueRows = rows.filter((r) => r[0] === 'AWS/SQS');
      for (const queue of [...Object.keys(QUEUES), ...DEAD_LETTER_QUEUES]) {
        const name = template.Resources[queue].Properties.QueueName;
        expect({ queue, shown: queueRows.some((r) => r[3] === name) }).toEqual({ queue, shown: true });
      }
      expect(new Set(queueRows.map((r) => r[1]))).toEqual(
        new Set(['ApproximateNumberOfMessagesVisible', 'ApproximateAgeOfOldestMessage']),
      );
      // Every alarm, by its ARN (the partition is CloudFormation's).
      const listed = widgets.filter((w) => w.type === 'alarm').flatMap((w) => w.properties.alarms as string[]);
      const conditional = ['StagingReplicationLagAlarm', 'StagingReplicationFailedAlarm'];
      const alarmIds = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([id]) => id);
      expect(listed.sort()).toEqual(
        alarmIds
          .filter((id) => !conditional.includes(id))
          .map((id) => `<${id}.Arn>`)
          .sort(),
      );
      expect(variables.StagingReplicationAlarms['Fn::If'][1]['Fn::Sub']).toBe(
        conditional.map((id) => `, "\${${id}.Arn}"`).join(''),
      );
    },
  );
});

describe('issue 16: job events and webhooks', () => {
  const NOTIFICATION_FUNCTIONS = {
    publishJobEvents: 'functions/notifications/publish-job-events.handler',
    deliverWebhooks: 'functions/notifications/deliver-webhooks.handler',
    lookupJobsStream: 'functions/notifications/jobs-stream-arn.handler',
    createWebhook: 'functions/notifications/create-webhook.handler',
    listWebhooks: 'functions/notifications/list-webhooks.handler',
    deleteWebhook: 'functions/notifications/delete-webhook.handler',
    webhookDeliveries: 'functions/notifications/webhook-deliveries.handler',
  };
  const WEBHOOKS_TABLE = tableArn(`eft-${STAGE}-webhooks`);
  const DEFAULT_BUS = `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:event-bus/default`;

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: publishJobEvents reads the jobs stream (ReportBatchItemFailures, a DLQ) and may put events on the default bus only',
    (key) => {
      const template = packaged[key].template;
      const fn = functionNamed(template, 'publishJobEvents');
      const [roleId, role] = roleOf(template, fn);
      const mapping = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').find(
        ([, r]) => r.Properties.FunctionName?.['Fn::GetAtt']?.[0] === 'PublishJobEventsLambdaFunction',
      )?.[1];
      expect(mapping?.Properties).toMatchObject({
        EventSourceArn: { 'Fn::GetAtt': ['JobsStream', 'StreamArn'] },
        StartingPosition: 'LATEST',
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['JobEventsDeadLetterQueue', 'Arn'] } } },
      });
      // The stream's ARN in this region: west's lookup waits for the table it creates, east's names it.
      expect(template.Resources.JobsStream?.Properties.TableName).toEqual(
        key === 'west' ? { Ref: 'JobsTable' } : `eft-${STAGE}-jobs`,
      );
      expect(grantsOf(roleId, role)).toEqual(
        [
          ...functionBasics('publishJobEvents'),
          ...['DescribeStream', 'GetRecords', 'GetShardIterator', 'ListStreams'].map(
            (a) => `dynamodb:${a} ${tableArn(TABLE_NAMES.jobs)}/stream/*`,
          ),
          `events:PutEvents ${DEFAULT_BUS}`,
          `dynamodb:GetItem ${WEBHOOKS_TABLE}`,
          `dynamodb:PutItem ${WEBHOOKS_TABLE}`,
          `dynamodb:Query ${WEBHOOKS_TABLE}`,
          `sqs:SendMessage \${WebhookDeliveriesQueue.Arn}`,
          `sqs:SendMessage \${JobEventsDeadLetterQueue.Arn}`,
        ].sort(),
      );
      // No other role may put events anywhere.
      const putters = resourcesOfType(template, 'AWS::IAM::Role')
        .filter(([id, r]) => grantsOf(id, r).some((g) => g.startsWith('events:PutEvents')))
        .map(([id]) => id);
      expect(putters).toEqual(['PublishJobEventsRole']);
    },
  );

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: the notification functions, with roles of their own, and the webhook routes (AWS_IAM)',
    (key) => {
      const template = packaged[key].template;
      for (const [name, handler] of Object.entries(NOTIFICATION_FUNCTIONS)) {
        const fn = functionNamed(template, name);
        expect(fn.Properties.Handler).toBe(handler);
        const [roleId] = roleOf(template, fn);
        expect(roleId).toBe(`${name[0]?.toUpperCase()}${name.slice(1)}Role`);
        expect(template.Resources[`${name[0]?.toUpperCase()}${name.slice(1)}LogGroup`]?.Properties.KmsKeyId).toEqual({
          'Fn::GetAtt': ['EftKey', 'Arn'],
        });
      }
      const routes = resourcesOfType(template, 'AWS::ApiGateway::Method')
        .filter(([, m]) => m.Properties.HttpMethod !== 'OPTIONS')
        .map(([, m]) => [routeOf(template, m), m.Properties.AuthorizationType])
        .filter(([route]) => route?.includes('/webhooks'));
      expect(routes.sort()).toEqual(
        [
          ['DELETE /webhooks/{id}', 'AWS_IAM'],
          ['GET /webhooks', 'AWS_IAM'],
          ['GET /webhooks/{id}/deliveries', 'AWS_IAM'],
          ['POST /webhooks', 'AWS_IAM'],
        ].sort(),
      );
      // Signing secrets: only the webhook functions reach them, under their own prefix.
      const signing = `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:eft/${STAGE}/webhooks/*`;
      const [deliverId, deliverRole] = roleOf(template, functionNamed(template, 'deliverWebhooks'));
      expect(grantsOf(deliverId, deliverRole)).toContain(`secretsmanager:GetSecretValue ${signing}`);
      const [listId, listRole] = roleOf(template, functionNamed(template, 'listWebhooks'));
      expect(grantsOf(listId, listRole).filter((g) => g.startsWith('secretsmanager:'))).toEqual([]);
      const reachSigning = resourcesOfType(template, 'AWS::IAM::Role')
        .filter(([id, r]) => grantsOf(id, r).some((g) => g.includes(`:secret:${WEBHOOK_SECRET_NAME_PREFIX}/`)))
        .map(([id]) => id);
      expect(reachSigning.sort()).toEqual(['CreateWebhookRole', 'DeleteWebhookRole', 'DeliverWebhooksRole']);
    },
  );

  describe.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: the webhook API and the stream lookup: exactly what each needs',
    (key) => {
      const { peer } = REGIONS[key];
      const signingIn = (r: string) =>
        `arn:\${AWS::Partition}:secretsmanager:${r}:\${AWS::AccountId}:secret:${WEBHOOK_SECRET_NAME_PREFIX}/*`;
      // A secret is created here with its replica in the peer region; deleted where its primary is (either region).
      const onSigning = (...actions: string[]) =>
        actions.flatMap((a) => [`secretsmanager:${a} ${signingIn(`\${AWS::Region}`)}`, `secretsmanager:${a} ${signingIn(peer)}`]);
      const caller = `dynamodb:GetItem ${tableArn(TABLE_NAMES.principals)}`;
      const onWebhooks = (...actions: string[]) => actions.map((a) => `dynamodb:${a} ${WEBHOOKS_TABLE}`);
      const expected: Record<WebhookApiFunction | 'lookupJobsStream', string[]> = {
        createWebhook: [
          caller,
          ...onWebhooks('PutItem'),
          ...onSigning('CreateSecret', 'TagResource', 'ReplicateSecretToRegions', 'RemoveRegionsFromReplication', 'DeleteSecret'),
        ],
        listWebhooks: [caller, ...onWebhooks('Query')],
        deleteWebhook: [
          caller,
          ...onWebhooks('GetItem', 'DeleteItem'),
          ...onSigning('RemoveRegionsFromReplication', 'DeleteSecret'),
        ],
        webhookDeliveries: [caller, ...onWebhooks('GetItem', 'Query')],
        // The custom resource describes the jobs table in this region for its stream's ARN, nothing else.
        lookupJobsStream: [`dynamodb:DescribeTable ${tableArn(TABLE_NAMES.jobs)}`],
      };

      test.each(Object.keys(expected) as (keyof typeof expected)[])('%s', (name) => {
        const template = packaged[key].template;
        const [roleId, role] = roleOf(template, functionNamed(template, name));
        expect(grantsOf(roleId, role)).toEqual([...expected[name], ...functionBasics(name)].sort());
      });
    },
  );

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: webhook deliveries go through a KMS-encrypted queue with a DLQ; the webhooks table is the west stack’s global table',
    (key) => {
      const template = packaged[key].template;
      const queue = template.Resources.WebhookDeliveriesQueue?.Properties;
      expect(queue?.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': ['EftKey', 'Arn'] });
      expect(queue?.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': ['WebhookDeliveriesDeadLetterQueue', 'Arn'] },
        maxReceiveCount: 5,
      });
      for (const dlq of ['WebhookDeliveriesDeadLetterQueue', 'JobEventsDeadLetterQueue'])
        expect(template.Resources[dlq]?.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': ['EftKey', 'Arn'] });
      const mapping = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').find(
        ([, r]) => r.Properties.FunctionName?.['Fn::GetAtt']?.[0] === 'DeliverWebhooksLambdaFunction',
      )?.[1];
      expect(mapping?.Properties.EventSourceArn).toEqual({ 'Fn::GetAtt': ['WebhookDeliveriesQueue', 'Arn'] });
      expect(mapping?.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      const table = template.Resources.WebhooksTable;
      if (key === 'west') {
        expect(table?.Type).toBe('AWS::DynamoDB::GlobalTable');
        expect(table?.Properties.SSESpecification).toEqual({ SSEEnabled: true, SSEType: 'KMS' });
        expect(table?.Properties.Replicas.map((r: Json) => r.Region).sort()).toEqual([EAST, WEST]);
      } else {
        expect(table).toBeUndefined();
      }
    },
  );
});

describe('issue 16: Powertools in every function bundle', () => {
  /** The text of every .js file of a function's package (a zip of stored or deflated entries, as osls writes it). */
  async function bundledJs(zipPath: string): Promise<string> {
    const { inflateRawSync } = await import('node:zlib');
    const zip = readFileSync(zipPath);
    const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const count = zip.readUInt16LE(end + 10);
    let at = zip.readUInt32LE(end + 16);
    const texts: string[] = [];
    for (let i = 0; i < count; i++) {
      const method = zip.readUInt16LE(at + 10);
      const size = zip.readUInt32LE(at + 20);
      const nameLength = zip.readUInt16LE(at + 28);
      const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
      const local = zip.readUInt32LE(at + 42);
      at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
      if (!name.endsWith('.js')) continue;
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + size);
      texts.push((method === 8 ? inflateRawSync(data) : data).toString('utf8'));
    }
    return texts.join('\n');
  }

  test.each(Object.keys(REGIONS) as RegionKey[])(
    '%s: every function bundles Powertools Logger behind the engine’s logger (core/observability/logger.ts)',
    async (key) => {
      const functions = Object.entries(packaged[key].state.service.functions as Record<string, Json>);
      expect(functions.length).toBeGreaterThan(30);
      const without: string[] = [];
      for (const [name, fn] of functions) {
        const artifact = join(workDir, key, String(fn.package.artifact).split('/').pop() ?? '');
        const js = await bundledJs(artifact);
        // esbuild names each bundled module in a comment, by its path from where osls ran (a symlinked copy here).
        const powertools = /^\/\/ \S*@aws-lambda-powertools\/logger\/lib\/(esm|cjs)\/Logger\.js$/m.test(js);
        const engineLogger = /^\/\/ \S*core\/observability\/logger\.ts$/m.test(js);
        if (!powertools || !engineLogger) without.push(name);
      }
      expect(without).toEqual([]);
    },
  );
});

describe('issue 18: the small-file fast path', () => {
  const regionKeys = Object.keys(REGIONS) as RegionKey[];
  const raw = (key: RegionKey): Json => packaged[key].template;

  test.each(regionKeys)(
    '%s: a single file up to smallFileThresholdBytes runs in smallTransfer, in the worker’s network, with the worker’s grants',
    (key) => {
      const template = raw(key);
      const { definition, params } = transferDefinition(template);
      // ChooseFlow: a copy stays a copy; a file of known size up to 16 MiB takes the function; anything else the worker.
      const choices = definition.States.ChooseFlow.Choices;
      expect(choices[1]).toEqual({
        And: [
          { Variable: '$.bytesTotal', IsPresent: true },
          { Variable: '$.bytesTotal', NumericLessThanEquals: 16 * 1024 * 1024 },
        ],
        Next: 'RunSmallTransfer',
      });
      expect(definition.States.ChooseFlow.Default).toBe('RunWorker');
      const task = definition.States.RunSmallTransfer;
      const fn = functionNamed(template, 'smallTransfer');
      const fnId = lambdaFunctions(template).find(([, f]) => f === fn)?.[0];
      expect(resolvedIn(params, task.Resource)).toEqual({ 'Fn::GetAtt': [fnId, 'Arn'] });
      expect(task.Next).toBe('VerifyTransfer');
      // Step Functions never gives up on an invocation that may still write: the state outlasts the function.
      expect(task.TimeoutSeconds).toBeGreaterThan(fn.Properties.Timeout);
      // Out of time, killed, or not run: the worker takes the job over; a lost lease or a recorded failure: FailTransfer.
      expect(task.Catch.map((c: Json) => [c.ErrorEquals.includes('FastPathDeadlineError'), c.Next])).toEqual([
        [true, 'RunWorker'],
        [false, 'FailTransfer'],
      ]);
      expect(task.Catch[0].ErrorEquals).toEqual(expect.arrayContaining(['Lambda.Unknown', 'Sandbox.Timedout', 'States.Timeout']));
      expect(task.Retry).toEqual([expect.objectContaining({ ErrorEquals: ['Lambda.TooManyRequestsException'] })]);

      // The worker's subnets and security groups (so partners see the same egress addresses).
      const worker = definition.States.RunWorker.Parameters.NetworkConfiguration.AwsvpcConfiguration;
      const [subnets] = worker.Subnets.map((v: string) => resolvedIn(params, v));
      const [groups] = worker.SecurityGroups.map((v: string) => resolvedIn(params, v));
      expect(fn.Properties.VpcConfig).toEqual({
        SubnetIds: { 'Fn::Split': [',', { 'Fn::Join': [',', subnets['Fn::Join'][1]] }] },
        SecurityGroupIds: { 'Fn::Split': [',', { 'Fn::Join': [',', groups['Fn::Join'][1]] }] },
      });
      expect(template.Resources.PartnerFacingFunctionsNetworkInterfaces.Properties.Roles).toContainEqual({
        Ref: 'SmallTransferRole',
      });

      // Least privilege: exactly the worker task role's grants less the batch's execution input, plus its own logs and X-Ray.
      const [roleId, role] = roleOf(template, fn);
      expect(roleId).toBe('SmallTransferRole');
      const workerGrants = grantsOf('WorkerTaskRole', template.Resources.WorkerTaskRole as Resource).filter(
        (grant) => !grant.startsWith('states:DescribeExecution '),
      );
      expect(grantsOf(roleId, role)).toEqual([...workerGrants, ...functionBasics('smallTransfer')].sort());
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ]);
      // The state machine may invoke it.
      const invoke = grantsOf(
        'TransferStateMachineExecutionRole',
        template.Resources.TransferStateMachineExecutionRole as Resource,
      ).filter((grant) => grant.includes(`function:eft-${STAGE}-smallTransfer`));
      expect(invoke).toEqual([
        `lambda:InvokeFunction arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:eft-${STAGE}-smallTransfer`,
      ]);
    },
  );
});
