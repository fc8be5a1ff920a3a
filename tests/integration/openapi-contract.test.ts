import { readFile } from 'node:fs/promises';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { marshall } from '@aws-sdk/util-dynamodb';
import { EXAMPLE_IDS, type ExampleRequest, OPERATIONS, operationById } from '../../core/api/operations';
import type { ApiClient, ApiResponse } from '../../local/api-client';
import { awaitJob } from '../../local/jobs';
import { startTestEngine, type TestEngine } from '../support/local-engine';
import { OpenApiContract } from '../support/openapi-contract';

/**
 * The contract against what the API answers: every operation's example request
 * (docs/openapi.json), its example ids swapped for those of what this test
 * created, sent to the local engine; every answer, and a 400, a 404 and a 409,
 * checked (ajv) against the document's schema for the status received.
 */
let engine: TestEngine;
let alice: ApiClient;
let s3: S3Client;
const contract = new OpenApiContract();
const exercised = new Set<string>();
/** Example id → the id of what the test created in its place. */
const real = new Map<string, string>();

beforeAll(async () => {
  engine = await startTestEngine();
  alice = engine.alice.west;
  s3 = new S3Client({
    endpoint: engine.stack.info.s3.endpoint,
    region: 'us-gov-west-1',
    forcePathStyle: true,
    credentials: engine.stack.info.credentials,
  });
}, 60_000);
afterAll(async () => {
  s3.destroy();
  await engine.close();
});

/** Every example id in `value` replaced by the real one it stands for. */
function substitute<T>(value: T): T {
  return (
    JSON.parse(
      JSON.stringify(value ?? null).replace(/"((?:ep|job|req|rt|sc|whk)_[0-9a-z]{26})"/g, (quoted, id: string) =>
        real.has(id) ? JSON.stringify(real.get(id)) : quoted,
      ),
    ) ?? undefined
  );
}

/** Sends a request of an operation (its example unless `request` says otherwise) and checks the answer against the document. */
async function call(operationId: string, request?: ExampleRequest): Promise<ApiResponse> {
  const operation = operationById(operationId);
  const { path = {}, query = {}, headers = {}, body } = substitute(request ?? operation.example);
  const target = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(path[name] ?? ''));
  const search = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
  const response = await alice.request(operation.method.toUpperCase(), `${target}${search ? `?${search}` : ''}`, body, headers);
  expect({
    operationId,
    status: response.status,
    problems: contract.checkResponse(operation, response.status, response.body),
  }).toEqual({
    operationId,
    status: response.status,
    problems: [],
  });
  if (response.status < 400) exercised.add(operationId);
  return response;
}

/** An example request answered with a success status the document gives it. */
async function example(operationId: string, status = 200): Promise<ApiResponse> {
  const response = await call(operationId);
  expect({ operationId, status: response.status, body: response.body }).toEqual({ operationId, status, body: expect.anything() });
  return response;
}

/** A refusal: its status, and a code the document lists for the operation and that status. */
async function refused(operationId: string, request: ExampleRequest, status: number, code: string): Promise<ApiResponse> {
  const response = await call(operationId, request);
  expect(response.status).toBe(status);
  expect(response.body.error.code).toBe(code);
  expect(contract.errorCodes(operationById(operationId), status)).toContain(code);
  return response;
}

/** Follows a job until it is in `status` (its execution has started, and waits), as a customer would. */
async function awaitStatus(jobId: string, status: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await alice.get(`/jobs/${jobId}`);
    if (job.body.status === status) return;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.body.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function put(bucket: string, key: string, body: string) {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

const s3Endpoint = (name: string, bucket: string, prefix: string, direction: string): ExampleRequest => ({
  body: { type: 'S3', name, direction, s3: { bucket, prefix, region: 'us-gov-west-1' } },
});

describe('every operation answers what the OpenAPI document says', () => {
  it('endpoints', async () => {
    for (const [exampleId, request] of [
      [EXAMPLE_IDS.outboxEndpoint, s3Endpoint('outbox', 'customer-a-outbox', 'out/', 'OUTBOUND')],
      [EXAMPLE_IDS.inboxEndpoint, s3Endpoint('inbox', 'customer-a-inbox', 'in/', 'INBOUND')],
    ] as const) {
      const created = await call('createEndpoint', request);
      expect(created.status).toBe(201);
      real.set(exampleId, created.body.id);
      const validated = await call('validateEndpoint', { path: { id: created.body.id } });
      expect(validated.body.validation.ok).toBe(true);
      expect(validated.body.endpoint.status).toBe('ACTIVE');
    }
    // The local partner's SFTP server: a validation that passes records its capabilities and what was negotiated.
    const partner = engine.stack.info.partnerSftp;
    const local = await call('createEndpoint', {
      body: {
        type: 'SFTP',
        name: 'local partner',
        direction: 'BOTH',
        sftp: {
          host: partner.host,
          port: partner.port,
          username: partner.username,
          hostKeyFingerprint: partner.hostKeyFingerprint,
        },
        credentials: { privateKey: await readFile(partner.privateKeyPath, 'utf8') },
      },
    });
    const localValidation = await call('validateEndpoint', { path: { id: local.body.id } });
    expect(localValidation.body.validation).toMatchObject({ ok: true, capabilities: { negotiated: expect.any(Object) } });
    expect(localValidation.body.endpoint.capabilities).toEqual(localValidation.body.validation.capabilities);

    real.set(EXAMPLE_IDS.partnerEndpoint, (await example('createEndpoint', 201)).body.id);

    await example('getEgress');
    expect((await example('listEndpoints')).body.items.length).toBeGreaterThanOrEqual(4);
    expect((await example('getEndpoint')).body).toMatchObject({ type: 'SFTP', status: 'PENDING' });
    expect((await example('updateEndpoint')).body.sftp.hostKeyFingerprint).toMatch(/^SHA256:/);
    // The partner's host name is the example's (it resolves nowhere): validation answers, and says why it failed.
    expect((await example('validateEndpoint')).body.validation.ok).toBe(false);
    expect((await example('listEndpointAudit')).body.items.map((e: { action: string }) => e.action)).toContain(
      'endpoint.created',
    );
  });

  it('refuses bad input with a 400 that names the fields', async () => {
    const response = await refused('createEndpoint', { body: { type: 'S3', name: '' } }, 400, 'VALIDATION_FAILED');
    expect(response.body.error.fields.length).toBeGreaterThan(0);
  });

  it('transfers and jobs, with a 404 and a 409', async () => {
    await put('customer-a-outbox', 'out/daily/report-2026-12-01.csv', 'id,amount\n1,100\n');
    const created = await example('createTransfer', 201);
    real.set(EXAMPLE_IDS.job, created.body.jobs[0].jobId);
    real.set(EXAMPLE_IDS.request, created.body.requestId);
    // The same request again (same Idempotency-Key): the jobs it created, 200.
    expect((await example('createTransfer', 200)).body.requestId).toBe(created.body.requestId);

    expect((await awaitJob(alice, created.body.jobs[0].jobId)).status).toBe('SUCCEEDED');
    expect((await example('getJob')).body).toMatchObject({ status: 'SUCCEEDED', result: { alreadyPresent: false } });
    expect((await example('listJobs')).body.items).toHaveLength(1);

    await refused('cancelJob', { path: { jobId: created.body.jobs[0].jobId } }, 409, 'ILLEGAL_TRANSITION');
    await refused('getJob', { path: { jobId: `job_${'0'.repeat(26)}` } }, 404, 'NOT_FOUND');
  });

  it('cancels a job that has not started, and re-drives it', async () => {
    // The other region holds the partition: the job waits, QUEUED, until it is let go.
    const partitionId = `customer-a#${real.get(EXAMPLE_IDS.outboxEndpoint)}#${real.get(EXAMPLE_IDS.inboxEndpoint)}`;
    const db = new DynamoDBClient({
      endpoint: engine.stack.info.dynamodb.endpoint,
      region: 'us-gov-west-1',
      credentials: engine.stack.info.credentials,
    });
    const lease = (UpdateExpression: string, values: Record<string, unknown>) =>
      db.send(
        new UpdateItemCommand({
          TableName: engine.stack.info.tables.leases,
          Key: marshall({ partitionId }),
          UpdateExpression,
          ExpressionAttributeValues: marshall(values),
        }),
      );
    try {
      await lease('SET ownerRegion = :east, expiresAt = :later, epoch = if_not_exists(epoch, :zero) + :one, executions = :ids', {
        ':east': 'us-gov-east-1',
        ':later': Date.now() + 60_000,
        ':zero': 0,
        ':one': 1,
        ':ids': new Set(['east-exec']),
      });
      await put('customer-a-outbox', 'out/daily/held.csv', 'held');
      const held = await call('createTransfer', {
        body: {
          source: { endpointId: EXAMPLE_IDS.outboxEndpoint, path: 'daily/held.csv' },
          target: { endpointId: EXAMPLE_IDS.inboxEndpoint, path: 'incoming/held.csv' },
        },
      });
      real.set(EXAMPLE_IDS.job, held.body.jobs[0].jobId);
      await awaitStatus(held.body.jobs[0].jobId, 'QUEUED');
      expect((await example('cancelJob')).body.status).toBe('CANCELLED');
      await lease('SET expiresAt = :zero REMOVE executions', { ':zero': 0 });
    } finally {
      db.destroy();
    }
    const redriven = await example('redriveJob', 201);
    expect(redriven.body).toMatchObject({ redriveOf: real.get(EXAMPLE_IDS.job) });
    // The same Idempotency-Key again: the same re-drive, 200.
    expect((await example('redriveJob', 200)).body.jobId).toBe(redriven.body.jobId);
    expect((await awaitJob(alice, redriven.body.jobId)).status).toBe('SUCCEEDED');
  });

  it('routes', async () => {
    real.set(EXAMPLE_IDS.route, (await example('createRoute', 201)).body.id);
    expect((await example('listRoutes')).body.items).toHaveLength(1);
    await example('getRoute');
    expect((await example('updateRoute')).body.enabled).toBe(false);
    await example('deleteRoute');
  });

  it('schedules', async () => {
    real.set(EXAMPLE_IDS.schedule, (await example('createSchedule', 201)).body.id);
    expect((await example('listSchedules')).body.items).toHaveLength(1);
    expect((await example('getSchedule')).body.nextRunAt).toEqual(expect.any(String));
    expect((await example('updateSchedule')).body.timing).toEqual({ kind: 'rate', everySeconds: 3600 });
    await example('deleteSchedule');
  });

  it('webhooks', async () => {
    const created = await example('createWebhook', 201);
    expect(created.body.secret).toEqual(expect.any(String));
    real.set(EXAMPLE_IDS.webhook, created.body.id);
    expect((await example('listWebhooks')).body.items).toHaveLength(1);
    await example('listWebhookDeliveries');
    expect((await example('deleteWebhook')).body.deleted).toBe(true);
  });

  it('disables an endpoint', async () => {
    expect((await example('deleteEndpoint')).body.status).toBe('DISABLED');
  });

  it('has sent every operation and seen it succeed', () => {
    expect([...exercised].sort()).toEqual(OPERATIONS.map((o) => o.operationId).sort());
  });
});
