import { describeEgress } from '../../core/control-plane/egress/egress';
import { EgressViewSchema } from '../../core/control-plane/egress/view';
import {
  AuditEventViewSchema,
  EndpointViewSchema,
  toAuditEventView,
  toValidationView,
  toView,
  ValidationViewSchema,
} from '../../core/control-plane/endpoints/view';
import { ApiErrorBodySchema } from '../../core/control-plane/http/error-body';
import { errorResponse } from '../../core/control-plane/http/error-response';
import { MalformedJsonError } from '../../core/control-plane/http/json-body';
import {
  DeletedWebhookViewSchema,
  NewWebhookViewSchema,
  toDeletedWebhookView,
  toDeliveryView,
  toNewWebhookView,
  WebhookDeliveryViewSchema,
} from '../../core/control-plane/notifications/view';
import {
  JobViewSchema,
  TransferRequestViewSchema,
  toJobView,
  toTransferRequestView,
} from '../../core/control-plane/transfers/view';
import { RouteViewSchema, ScheduleViewSchema, toRouteView, toScheduleView } from '../../core/control-plane/triggers/view';
import type { Endpoint } from '../../core/domain/endpoint';
import { ConflictError, NotFoundError, ValidationError } from '../../core/domain/errors';
import type { TransferJob } from '../../core/domain/job';
import type { Webhook, WebhookDelivery } from '../../core/domain/notifications';
import { PartnerBusyError } from '../../core/domain/session-slots';
import type { Route, Schedule } from '../../core/domain/triggers';
import type { Logger } from '../../core/observability/logger';

/**
 * The views with every optional field the domain can fill, against their
 * schemas (strict: a field the schema does not name fails): the cases the
 * integration contract test (openapi-contract) does not reach.
 */
const at = '2026-12-01T02:00:00.000Z';

const sftpEndpoint: Endpoint = {
  customerId: 'customer-a',
  endpointId: 'ep_01jdqx3v9k2m7n4p6r8s0t2w4y',
  type: 'SFTP',
  name: 'partner',
  direction: 'BOTH',
  status: 'ACTIVE',
  statusReason: 'validated',
  preferredRegion: 'us-gov-east-1',
  maxConcurrency: 4,
  secretRef: 'arn:aws-us-gov:secretsmanager:us-gov-west-1:111111111111:secret:x',
  validation: {
    ok: false,
    at,
    reason: 'HOST_KEY_MISMATCH',
    message: 'changed',
    offeredHostKeyFingerprint: 'SHA256:x',
    settingsHash: 'h',
  },
  credentialsUpdatedAt: at,
  createdAt: at,
  updatedAt: at,
  version: 3,
  sftp: {
    host: 'sftp.partner.example',
    port: 22,
    username: 'eft',
    basePath: '/',
    authType: 'PASSWORD',
    hostKeyFingerprint: 'SHA256:y',
  },
  capabilities: {
    write: true,
    renameToNew: false,
    renameOverExisting: false,
    posixRename: true,
    checkFile: false,
    multiHandleWrite: true,
    negotiated: { kex: 'ecdh-sha2-nistp256', cipher: 'aes256-gcm@openssh.com', mac: '', serverHostKey: 'ssh-ed25519' },
  },
};

const job: TransferJob = {
  jobId: 'job_01jdqy0c4e6g8j0m2p4r6t8v0x',
  customerId: 'customer-a',
  requestId: 'req_01jdqy0b3d5f7h9k1n3q5s7u9w',
  flowType: 'SFTP_TO_SFTP',
  sourceEndpointId: 'ep_a',
  sourcePath: 'out/a.csv',
  targetEndpointId: 'ep_b',
  targetPath: 'in/a.csv',
  partitionId: 'p',
  idempotencyKey: 'k',
  requestFingerprint: 'f',
  status: 'FAILED',
  attempts: 2,
  errorCode: 'CONNECTION_LOST',
  errorMessage: 'reset',
  createdAt: at,
  startedAt: at,
  completedAt: at,
  updatedAt: at,
  executionRegion: 'us-gov-west-1',
  transitions: [{ status: 'RECEIVED', at, region: 'us-gov-west-1', actor: 'api' }],
  bytesTransferred: 10,
  bytesTotal: 20,
  redriveOf: 'job_first',
  chainId: 'job_first',
  trigger: { kind: 'SCHEDULE', scheduleId: 'sc_x', pollId: 'poll' },
  afterTransfer: {
    action: 'MOVE',
    archivePath: 'archive',
    status: 'FAILED',
    attempts: 1,
    lastError: { code: 'X', message: 'y' },
    at,
  },
  checkpoint: { delivery: 'rename' },
  result: {
    bytes: 20,
    sha256: 'ab',
    checksum: { algorithm: 'SHA256', type: 'COMPOSITE', value: 'YQ==-2', partSize: 8 },
    etag: 'e',
    versionId: 'v',
    location: 's3://b/k',
    alreadyPresent: false,
  },
};

const target = { endpointId: 'ep_b', path: 'in', createDirectories: true };
const route: Route = {
  customerId: 'customer-a',
  routeId: 'rt_x',
  name: 'r',
  enabled: true,
  target,
  createdAt: at,
  updatedAt: at,
  version: 1,
  source: { endpointId: 'ep_a', path: 'out', pattern: '*.csv', includeSubfolders: true },
  sourceBucket: 'bucket',
};
const schedule: Schedule = {
  customerId: 'customer-a',
  scheduleId: 'sc_x',
  name: 's',
  enabled: true,
  target,
  createdAt: at,
  updatedAt: at,
  version: 1,
  source: { endpointId: 'ep_a', path: 'out', pattern: '*.csv' },
  timing: { kind: 'cron', expression: '0 2 * * *', timeZone: 'UTC' },
  minimumFileAgeSeconds: 60,
  afterTransfer: { action: 'MOVE', archivePath: 'archive' },
  nextRunAt: at,
};
const webhook: Webhook = {
  webhookId: 'whk_x',
  customerId: 'customer-a',
  url: 'https://hooks.example/x',
  events: ['FAILED'],
  description: 'd',
  secretRef: 's',
  createdAt: at,
  createdBy: 'arn',
};
const delivery: WebhookDelivery = {
  deliveryId: 'd',
  webhookId: 'whk_x',
  customerId: 'customer-a',
  jobId: job.jobId,
  event: 'FAILED',
  status: 'FAILED',
  attempts: 3,
  lastHttpStatus: 500,
  lastError: 'server error',
  createdAt: at,
  updatedAt: at,
  lastAttemptAt: at,
  nextAttemptAt: at,
  payload: '{}',
};

describe('the views, with every optional field, conform to their schemas', () => {
  it.each([
    ['an SFTP endpoint', EndpointViewSchema, toView(sftpEndpoint)],
    [
      'a failed validation',
      ValidationViewSchema,
      toValidationView(sftpEndpoint, { ok: false, reason: 'AUTH_FAILED', message: 'no' }),
    ],
    [
      'a passed validation',
      ValidationViewSchema,
      toValidationView(sftpEndpoint, { ok: true, capabilities: sftpEndpoint.capabilities, warnings: ['left a probe file'] }),
    ],
    [
      'an audit event',
      AuditEventViewSchema,
      toAuditEventView({
        eventId: 'e',
        subject: 'endpoint#ep_x',
        customerId: 'c',
        actor: 'arn',
        action: 'endpoint.created',
        at,
        details: { a: 1 },
      }),
    ],
    ['a job', JobViewSchema, toJobView(job)],
    ['a direct-write job', JobViewSchema, toJobView({ ...job, checkpoint: { delivery: 'direct-write' } })],
    ['a request over the view’s maximum', TransferRequestViewSchema, toTransferRequestView('req_x', [job, job], 1)],
    ['a route', RouteViewSchema, toRouteView(route)],
    ['a schedule', ScheduleViewSchema, toScheduleView(schedule)],
    ['a disabled schedule', ScheduleViewSchema, toScheduleView({ ...schedule, enabled: false })],
    ['a new webhook', NewWebhookViewSchema, toNewWebhookView(webhook, 'secret')],
    ['a deleted webhook', DeletedWebhookViewSchema, toDeletedWebhookView(webhook)],
    ['a delivery', WebhookDeliveryViewSchema, toDeliveryView(delivery)],
    ['the egress addresses', EgressViewSchema, describeEgress({ region: 'us-gov-west-1', addresses: ['203.0.113.7'] })],
  ] as const)('%s', (_, schema, view) => {
    expect(schema.safeParse(JSON.parse(JSON.stringify(view))).error).toBeUndefined();
  });

  it('shows neither secrets nor internal references', () => {
    expect(JSON.stringify(toView(sftpEndpoint))).not.toContain('secretsmanager');
    expect(toView(sftpEndpoint)).not.toHaveProperty('validation.settingsHash');
    expect(toJobView({ ...job, checkpoint: { delivery: 'direct-write' } }).delivery).toBe('direct-write');
    expect(toScheduleView({ ...schedule, enabled: false })).not.toHaveProperty('nextRunAt');
  });
});

describe('every error body conforms to ApiError', () => {
  const logged: unknown[] = [];
  const log = { error: (...args: unknown[]) => logged.push(args) } as unknown as Logger;
  it.each([
    ['a bad field', new ValidationError([{ field: 'source.path', message: 'must not be empty' }]), 400],
    ['malformed JSON', new MalformedJsonError(), 400],
    ['a missing resource', new NotFoundError('no job'), 404],
    ['a conflict', new ConflictError('changed', 'VERSION_CONFLICT'), 409],
    ['a busy partner', new PartnerBusyError('ep_x', 2, 5), 503],
    ['a middleware refusal', Object.assign(new Error('bad header'), { statusCode: 400 }), 400],
    ['a failure', new Error('boom'), 500],
  ] as const)('%s', (_, error, status) => {
    const response = errorResponse(error, 'lambda-request-id', log);
    expect(response.statusCode).toBe(status);
    expect(ApiErrorBodySchema.safeParse(JSON.parse(response.body)).error).toBeUndefined();
  });
});
