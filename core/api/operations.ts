/**
 * Every operation of the REST API, in one registry: the route (as
 * serverless.yml declares it; a unit test checks both ways), the schemas the
 * handler validates with, what it answers (status → schema), the error codes it
 * can refuse with, and an example request. The OpenAPI document
 * (./openapi.ts), docs/api.md and the contract tests are built from it.
 */
import type { z } from 'zod';
import { EgressQuerySchema } from '../control-plane/egress/egress';
import { EgressViewSchema } from '../control-plane/egress/view';
import {
  CreateEndpointSchema,
  EndpointPathSchema,
  PageQuerySchema,
  UpdateEndpointSchema,
} from '../control-plane/endpoints/schemas';
import { EndpointViewSchema, ValidationViewSchema } from '../control-plane/endpoints/view';
import { CreateWebhookSchema, DeliveriesQuerySchema, WebhookPathSchema } from '../control-plane/notifications/schemas';
import { DeletedWebhookViewSchema, NewWebhookViewSchema } from '../control-plane/notifications/view';
import {
  CreateTransferSchema,
  IdempotencyKeyHeader,
  JobPathSchema,
  ListJobsQuerySchema,
} from '../control-plane/transfers/schemas';
import { JobViewSchema, TransferRequestViewSchema } from '../control-plane/transfers/view';
import {
  CreateRouteSchema,
  CreateScheduleSchema,
  RoutePathSchema,
  SchedulePathSchema,
  TriggerPageQuerySchema,
  UpdateRouteSchema,
  UpdateScheduleSchema,
} from '../control-plane/triggers/schemas';
import { RouteViewSchema, ScheduleViewSchema } from '../control-plane/triggers/view';
import type { ErrorCode } from '../domain/error-codes';
import {
  AuditEventPageSchema,
  EndpointPageSchema,
  JobPageSchema,
  RoutePageSchema,
  SchedulePageSchema,
  WebhookDeliveryListSchema,
  WebhookListSchema,
} from './schemas';

export type HttpMethod = 'get' | 'post' | 'patch' | 'delete';

export interface ExampleRequest {
  path?: Record<string, string>;
  query?: Record<string, string | number>;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface Operation {
  operationId: string;
  method: HttpMethod;
  /** As serverless.yml's http event names it (OpenAPI's path template). */
  path: string;
  /** The serverless.yml function that serves it. */
  functionName: string;
  tag: 'Egress' | 'Endpoints' | 'Transfers' | 'Jobs' | 'Routes' | 'Schedules' | 'Webhooks';
  summary: string;
  description?: string;
  pathParams?: z.ZodObject;
  query?: z.ZodObject;
  /** The handler reads an Idempotency-Key header (IdempotencyKeyHeader). */
  idempotencyKey?: boolean;
  body?: z.ZodType;
  /** Success status → what the body is. */
  responses: Record<number, { description: string; schema: z.ZodType }>;
  /** The codes this operation can refuse with besides those every operation can (COMMON_ERRORS). */
  errors: ErrorCode[];
  example: ExampleRequest;
}

/**
 * Ids in the examples: the right shape (each parses with its schema), not real.
 * The integration test swaps them for the ids of what it created.
 */
export const EXAMPLE_IDS = {
  partnerEndpoint: 'ep_01jdqx3v9k2m7n4p6r8s0t2w4y',
  outboxEndpoint: 'ep_01jdqx4a1b2c3d4e5f6g7h8j9k',
  inboxEndpoint: 'ep_01jdqx5m2n3p4q5r6s7t8v9w0x',
  job: 'job_01jdqy0c4e6g8j0m2p4r6t8v0x',
  request: 'req_01jdqy0b3d5f7h9k1n3q5s7u9w',
  route: 'rt_01jdqz1a2b3c4d5e6f7g8h9j0k',
  schedule: 'sc_01jdqz2k3m4n5p6q7r8s9t0v1w',
  webhook: 'whk_01jdqz3x4y5z6a7b8c9d0e1f2g',
} as const;

const ids = EXAMPLE_IDS;

/** Every operation can answer these: the principal is no customer's (403), a malformed request (400), a failure (500). */
export const COMMON_ERRORS: ErrorCode[] = ['BAD_REQUEST', 'FORBIDDEN', 'INTERNAL'];
/** An operation that takes input can refuse it, naming the fields. */
const INPUT_ERRORS: ErrorCode[] = ['VALIDATION_FAILED'];
/** An operation with a JSON body. */
const BODY_ERRORS: ErrorCode[] = ['VALIDATION_FAILED', 'MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];

/** The request schema as a named component of the document (a copy carrying the name; it validates the same). */
const named = (schema: z.ZodType, id: string) => schema.meta({ id });

const ok = (description: string, schema: z.ZodType) => ({ 200: { description, schema } });
const created = (description: string, schema: z.ZodType) => ({ 201: { description, schema } });
const page = { limit: 25 };

export const OPERATIONS: Operation[] = [
  {
    operationId: 'getEgress',
    method: 'get',
    path: '/egress',
    functionName: 'getEgress',
    tag: 'Egress',
    summary: 'The addresses a partner allow-lists for this region',
    description: 'Both regions run jobs: a partner allow-lists the addresses of both (each region answers its own).',
    query: EgressQuerySchema,
    responses: ok('The region’s egress addresses', EgressViewSchema),
    errors: INPUT_ERRORS,
    example: {},
  },
  {
    operationId: 'createEndpoint',
    method: 'post',
    path: '/endpoints',
    functionName: 'createEndpoint',
    tag: 'Endpoints',
    summary: 'Register an endpoint (PENDING until validated)',
    description:
      'Credentials are stored in Secrets Manager and never shown again. An SFTP endpoint without `hostKeyFingerprint` validates to `HOST_KEY_UNCONFIRMED`, naming the offered key to confirm with PATCH.',
    body: named(CreateEndpointSchema, 'CreateEndpointRequest'),
    responses: created('The endpoint, PENDING', EndpointViewSchema),
    errors: BODY_ERRORS,
    example: {
      body: {
        type: 'SFTP',
        name: 'partner outbound',
        direction: 'OUTBOUND',
        sftp: { host: 'sftp.partner.example', port: 22, username: 'eft', basePath: '/outbound' },
        credentials: { password: 'correct horse battery staple' },
      },
    },
  },
  {
    operationId: 'listEndpoints',
    method: 'get',
    path: '/endpoints',
    functionName: 'listEndpoints',
    tag: 'Endpoints',
    summary: 'List your endpoints, a page at a time',
    query: PageQuerySchema,
    responses: ok('A page of endpoints', EndpointPageSchema),
    errors: INPUT_ERRORS,
    example: { query: page },
  },
  {
    operationId: 'getEndpoint',
    method: 'get',
    path: '/endpoints/{id}',
    functionName: 'getEndpoint',
    tag: 'Endpoints',
    summary: 'Read one endpoint',
    pathParams: EndpointPathSchema,
    responses: ok('The endpoint', EndpointViewSchema),
    errors: [...INPUT_ERRORS, 'NOT_FOUND'],
    example: { path: { id: ids.partnerEndpoint } },
  },
  {
    operationId: 'updateEndpoint',
    method: 'patch',
    path: '/endpoints/{id}',
    functionName: 'updateEndpoint',
    tag: 'Endpoints',
    summary: 'Change settings, confirm a host key, rotate credentials, activate or deactivate',
    description:
      'Only the fields given change. A change of connection settings returns the endpoint to PENDING; `status: ACTIVE` needs the current settings validated.',
    pathParams: EndpointPathSchema,
    body: named(UpdateEndpointSchema, 'UpdateEndpointRequest'),
    responses: ok('The endpoint as changed', EndpointViewSchema),
    errors: [...BODY_ERRORS, 'NOT_FOUND', 'VERSION_CONFLICT', 'NOT_VALIDATED', 'NO_SECRET'],
    example: {
      path: { id: ids.partnerEndpoint },
      body: { sftp: { hostKeyFingerprint: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU' } },
    },
  },
  {
    operationId: 'deleteEndpoint',
    method: 'delete',
    path: '/endpoints/{id}',
    functionName: 'deleteEndpoint',
    tag: 'Endpoints',
    summary: 'Disable an endpoint (running jobs finish, new ones are refused)',
    pathParams: EndpointPathSchema,
    responses: ok('The endpoint, DISABLED', EndpointViewSchema),
    errors: [...INPUT_ERRORS, 'NOT_FOUND', 'VERSION_CONFLICT'],
    example: { path: { id: ids.partnerEndpoint } },
  },
  {
    operationId: 'validateEndpoint',
    method: 'post',
    path: '/endpoints/{id}/validate',
    functionName: 'validateEndpoint',
    tag: 'Endpoints',
    summary: 'Connect to the endpoint, check access and record its capabilities',
    description:
      'Answers 200 whether or not validation passed: `validation.ok` says which, `validation.reason` why not. The endpoint becomes ACTIVE only if it passed.',
    pathParams: EndpointPathSchema,
    responses: ok('What validation found, and the endpoint after it', ValidationViewSchema),
    errors: [...INPUT_ERRORS, 'NOT_FOUND', 'VERSION_CONFLICT', 'PARTNER_BUSY'],
    example: { path: { id: ids.partnerEndpoint } },
  },
  {
    operationId: 'listEndpointAudit',
    method: 'get',
    path: '/endpoints/{id}/audit',
    functionName: 'endpointAudit',
    tag: 'Endpoints',
    summary: 'An endpoint’s audit trail: who changed what, when',
    pathParams: EndpointPathSchema,
    query: PageQuerySchema,
    responses: ok('A page of audit events, oldest first', AuditEventPageSchema),
    errors: [...INPUT_ERRORS, 'NOT_FOUND'],
    example: { path: { id: ids.partnerEndpoint }, query: page },
  },
  {
    operationId: 'createTransfer',
    method: 'post',
    path: '/transfers',
    functionName: 'createTransfers',
    tag: 'Transfers',
    summary: 'Transfer a file, or a folder’s files (one job each)',
    description:
      'A path ending in `/`, or a `pattern`, names a folder. The same request again (or the same Idempotency-Key) finds the jobs it created: 200 instead of 201.',
    idempotencyKey: true,
    body: named(CreateTransferSchema, 'CreateTransferRequest'),
    responses: {
      ...created('Jobs were created', TransferRequestViewSchema),
      ...ok('The request’s jobs existed already (a retry)', TransferRequestViewSchema),
    },
    errors: [
      ...BODY_ERRORS,
      'NOT_FOUND',
      'ENDPOINT_NOT_ACTIVE',
      'IDEMPOTENCY_KEY_REUSED',
      'BUCKET_OWNER_UNKNOWN',
      'SOURCE_ACCESS_DENIED',
      'PARTNER_BUSY',
    ],
    example: {
      headers: { 'Idempotency-Key': 'daily-report-2026-12-01' },
      body: {
        source: { endpointId: ids.outboxEndpoint, path: 'daily/report-2026-12-01.csv' },
        target: { endpointId: ids.inboxEndpoint, path: 'incoming/report-2026-12-01.csv' },
      },
    },
  },
  {
    operationId: 'listJobs',
    method: 'get',
    path: '/jobs',
    functionName: 'listJobs',
    tag: 'Jobs',
    summary: 'List your jobs, by status or by request',
    query: ListJobsQuerySchema,
    responses: ok('A page of jobs', JobPageSchema),
    errors: INPUT_ERRORS,
    example: { query: { requestId: ids.request, limit: 25 } },
  },
  {
    operationId: 'getJob',
    method: 'get',
    path: '/jobs/{jobId}',
    functionName: 'getJob',
    tag: 'Jobs',
    summary: 'Read one job: status, transitions, progress, result or error',
    pathParams: JobPathSchema,
    responses: ok('The job', JobViewSchema),
    errors: [...INPUT_ERRORS, 'NOT_FOUND'],
    example: { path: { jobId: ids.job } },
  },
  {
    operationId: 'cancelJob',
    method: 'post',
    path: '/jobs/{jobId}/cancel',
    functionName: 'cancelJob',
    tag: 'Jobs',
    summary: 'Cancel a job that has not started (or whose execution is gone)',
    pathParams: JobPathSchema,
    responses: ok('The job, CANCELLED', JobViewSchema),
    errors: [...INPUT_ERRORS, 'NOT_FOUND', 'ILLEGAL_TRANSITION', 'JOB_IN_PROGRESS'],
    example: { path: { jobId: ids.job } },
  },
  {
    operationId: 'redriveJob',
    method: 'post',
    path: '/jobs/{jobId}/redrive',
    functionName: 'redriveJob',
    tag: 'Jobs',
    summary: 'Re-drive a FAILED or CANCELLED job: a new job, started at once',
    idempotencyKey: true,
    pathParams: JobPathSchema,
    responses: {
      ...created('The new job', JobViewSchema),
      ...ok('The re-drive existed already (the same Idempotency-Key)', JobViewSchema),
    },
    errors: [...INPUT_ERRORS, 'NOT_FOUND', 'NOT_REDRIVABLE', 'JOB_IN_PROGRESS', 'IDEMPOTENCY_KEY_REUSED'],
    example: { path: { jobId: ids.job }, headers: { 'Idempotency-Key': 'redrive-report-2026-12-01' } },
  },
  {
    operationId: 'createRoute',
    method: 'post',
    path: '/routes',
    functionName: 'createRoute',
    tag: 'Routes',
    summary: 'Create a route: objects created under an S3 endpoint’s folder are delivered to a target',
    body: named(CreateRouteSchema, 'CreateRouteRequest'),
    responses: created('The route', RouteViewSchema),
    errors: BODY_ERRORS,
    example: {
      body: {
        name: 'exports to partner',
        source: { endpointId: ids.outboxEndpoint, path: 'exports', pattern: '*.csv' },
        target: { endpointId: ids.inboxEndpoint, path: 'incoming' },
      },
    },
  },
  {
    operationId: 'listRoutes',
    method: 'get',
    path: '/routes',
    functionName: 'listRoutes',
    tag: 'Routes',
    summary: 'List your routes, a page at a time',
    query: TriggerPageQuerySchema,
    responses: ok('A page of routes', RoutePageSchema),
    errors: INPUT_ERRORS,
    example: { query: page },
  },
  {
    operationId: 'getRoute',
    method: 'get',
    path: '/routes/{routeId}',
    functionName: 'getRoute',
    tag: 'Routes',
    summary: 'Read one route',
    pathParams: RoutePathSchema,
    responses: ok('The route', RouteViewSchema),
    errors: [...INPUT_ERRORS, 'NOT_FOUND'],
    example: { path: { routeId: ids.route } },
  },
  {
    operationId: 'updateRoute',
    method: 'patch',
    path: '/routes/{routeId}',
    functionName: 'updateRoute',
    tag: 'Routes',
    summary: 'Change, enable or disable a route',
    description: 'Each field given replaces the current value whole; `{"enabled": false}` disables.',
    pathParams: RoutePathSchema,
    body: named(UpdateRouteSchema, 'UpdateRouteRequest'),
    responses: ok('The route as changed', RouteViewSchema),
    errors: [...BODY_ERRORS, 'NOT_FOUND', 'VERSION_CONFLICT'],
    example: { path: { routeId: ids.route }, body: { enabled: false } },
  },
  {
    operationId: 'deleteRoute',
    method: 'delete',
    path: '/routes/{routeId}',
    functionName: 'deleteRoute',
    tag: 'Routes',
    summary: 'Delete a route (its audit trail stays)',
    pathParams: RoutePathSchema,
    responses: ok('The route as it was', RouteViewSchema),
    errors: [...INPUT_ERRORS, 'NOT_FOUND', 'VERSION_CONFLICT'],
    example: { path: { routeId: ids.route } },
  },
  {
    operationId: 'createSchedule',
    method: 'post',
    path: '/schedules',
    functionName: 'createSchedule',
    tag: 'Schedules',
    summary: 'Create a schedule: poll a partner’s SFTP folder and pull new, stable files to a target',
    body: named(CreateScheduleSchema, 'CreateScheduleRequest'),
    responses: created('The schedule', ScheduleViewSchema),
    errors: BODY_ERRORS,
    example: {
      body: {
        name: 'nightly pickup',
        source: { endpointId: ids.partnerEndpoint, path: 'outbound', pattern: '*.csv' },
        target: { endpointId: ids.inboxEndpoint, path: 'from-partner' },
        timing: { kind: 'cron', expression: '0 2 * * *', timeZone: 'America/New_York' },
        afterTransfer: { action: 'MOVE', archivePath: 'archive' },
      },
    },
  },
  {
    operationId: 'listSchedules',
    method: 'get',
    path: '/schedules',
    functionName: 'listSchedules',
    tag: 'Schedules',
    summary: 'List your schedules, a page at a time',
    query: TriggerPageQuerySchema,
    responses: ok('A page of schedules', SchedulePageSchema),
    errors: INPUT_ERRORS,
    example: { query: page },
  },
  {
    operationId: 'getSchedule',
    method: 'get',
    path: '/schedules/{scheduleId}',
    functionName: 'getSchedule',
    tag: 'Schedules',
    summary: 'Read one schedule',
    pathParams: SchedulePathSchema,
    responses: ok('The schedule', ScheduleViewSchema),
    errors: [...INPUT_ERRORS, 'NOT_FOUND'],
    example: { path: { scheduleId: ids.schedule } },
  },
  {
    operationId: 'updateSchedule',
    method: 'patch',
    path: '/schedules/{scheduleId}',
    functionName: 'updateSchedule',
    tag: 'Schedules',
    summary: 'Change, enable or disable a schedule',
    description: 'Each field given replaces the current value whole; `{"enabled": false}` disables.',
    pathParams: SchedulePathSchema,
    body: named(UpdateScheduleSchema, 'UpdateScheduleRequest'),
    responses: ok('The schedule as changed', ScheduleViewSchema),
    errors: [...BODY_ERRORS, 'NOT_FOUND', 'VERSION_CONFLICT'],
    example: { path: { scheduleId: ids.schedule }, body: { timing: { kind: 'rate', everySeconds: 3600 } } },
  },
  {
    operationId: 'deleteSchedule',
    method: 'delete',
    path: '/schedules/{scheduleId}',
    functionName: 'deleteSchedule',
    tag: 'Schedules',
    summary: 'Delete a schedule (its audit trail stays)',
    pathParams: SchedulePathSchema,
    responses: ok('The schedule as it was', ScheduleViewSchema),
    errors: [...INPUT_ERRORS, 'NOT_FOUND', 'VERSION_CONFLICT'],
    example: { path: { scheduleId: ids.schedule } },
  },
  {
    operationId: 'createWebhook',
    method: 'post',
    path: '/webhooks',
    functionName: 'createWebhook',
    tag: 'Webhooks',
    summary: 'Register a webhook (HTTPS); the answer carries its signing secret, this once',
    body: named(CreateWebhookSchema, 'CreateWebhookRequest'),
    responses: created('The webhook and its signing secret', NewWebhookViewSchema),
    errors: BODY_ERRORS,
    example: {
      body: { url: 'https://hooks.customer.example/eft', events: ['SUCCEEDED', 'FAILED'], description: 'ops channel' },
    },
  },
  {
    operationId: 'listWebhooks',
    method: 'get',
    path: '/webhooks',
    functionName: 'listWebhooks',
    tag: 'Webhooks',
    summary: 'List your webhooks (never their secrets)',
    responses: ok('Every webhook of yours', WebhookListSchema),
    errors: [],
    example: {},
  },
  {
    operationId: 'deleteWebhook',
    method: 'delete',
    path: '/webhooks/{id}',
    functionName: 'deleteWebhook',
    tag: 'Webhooks',
    summary: 'Delete a webhook and its signing secret',
    pathParams: WebhookPathSchema,
    responses: ok('The webhook as it was', DeletedWebhookViewSchema),
    errors: [...INPUT_ERRORS, 'NOT_FOUND'],
    example: { path: { id: ids.webhook } },
  },
  {
    operationId: 'listWebhookDeliveries',
    method: 'get',
    path: '/webhooks/{id}/deliveries',
    functionName: 'webhookDeliveries',
    tag: 'Webhooks',
    summary: 'A webhook’s delivery log, newest first',
    pathParams: WebhookPathSchema,
    query: DeliveriesQuerySchema,
    responses: ok('The newest deliveries', WebhookDeliveryListSchema),
    errors: [...INPUT_ERRORS, 'NOT_FOUND'],
    example: { path: { id: ids.webhook }, query: { limit: 50 } },
  },
];

/** The schema of the Idempotency-Key header, where an operation reads one. */
export const IDEMPOTENCY_KEY_HEADER = IdempotencyKeyHeader;

export function operationById(operationId: string): Operation {
  const operation = OPERATIONS.find((o) => o.operationId === operationId);
  if (!operation) throw new Error(`no operation ${operationId}`);
  return operation;
}
