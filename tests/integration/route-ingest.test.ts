/**
 * Route ingestion (issue 14, push). First the domain function against the
 * real stores on a local DynamoDB (routes, endpoints, jobs, audit, the
 * sequencer marks of the trigger-state table), with executions and dead
 * letters recorded; then the whole path through the local engine (S3 →
 * EventBridge → SQS → ingestS3Events → state machine), each with its own
 * stand-ins.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, type Message, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DynamoAuditLog } from '../../core/adapters/dynamodb/audit-log';
import { DynamoEndpointStore } from '../../core/adapters/dynamodb/endpoint-store';
import { DynamoJobStore } from '../../core/adapters/dynamodb/job-store';
import { DynamoObjectEventMarks } from '../../core/adapters/dynamodb/object-event-marks';
import { DynamoRouteStore } from '../../core/adapters/dynamodb/trigger-store';
import { type IngestOutcome, ingestS3Event, type RouteIngestionDeps } from '../../core/control-plane/routes/ingest';
import { normalizeSequencer } from '../../core/control-plane/routes/ingest-event';
import { ManualClock } from '../../core/domain/clock';
import type { Endpoint } from '../../core/domain/endpoint';
import { newRouteId } from '../../core/domain/ids';
import { deriveIdempotencyKey, jobIdFor } from '../../core/domain/job';
import type { Logger } from '../../core/domain/logger';
import type { BatchInput, DeadLetter, JobKey, NewEndpoint, NewRoute } from '../../core/domain/ports';
import type { Route } from '../../core/domain/triggers';
import type { ApiClient } from '../../local/api-client';
import { localQueueUrl } from '../../local/cfn-values';
import { awaitJob } from '../../local/jobs';
import { engineDrivers } from '../support/drivers';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';
import { activeEndpoint, receiveMessages, sqsClient, startTestEngine, type TestEngine } from '../support/local-engine';

const OWNER = '111111111111';
const OTHER_ACCOUNT = '999999999999';
const CUSTOMER = 'cust-route';

let dynamo: TestDynamo;
let clock: ManualClock;
let endpoints: DynamoEndpointStore;
let routes: DynamoRouteStore;
let jobs: DynamoJobStore;
let marks: DynamoObjectEventMarks;
let started: Array<JobKey | BatchInput>;
let deadLetters: DeadLetter[];
let logged: Array<{ level: string; message: string; fields?: Record<string, unknown> }>;
let deps: RouteIngestionDeps;
let run = 0;

const recordingLogger: Logger = {
  debug: (message, fields) => logged.push({ level: 'debug', message, ...(fields ? { fields } : {}) }),
  info: (message, fields) => logged.push({ level: 'info', message, ...(fields ? { fields } : {}) }),
  warn: (message, fields) => logged.push({ level: 'warn', message, ...(fields ? { fields } : {}) }),
  error: (message, fields) => logged.push({ level: 'error', message, ...(fields ? { fields } : {}) }),
};

beforeAll(async () => {
  dynamo = await startTestDynamo();
  clock = new ManualClock();
  const audit = new DynamoAuditLog(dynamo.db, dynamo.tables.audit, clock);
  endpoints = new DynamoEndpointStore(dynamo.db, dynamo.tables.endpoints, audit, clock);
  routes = new DynamoRouteStore(dynamo.db, dynamo.tables.triggers, audit, clock);
  jobs = new DynamoJobStore(dynamo.db, dynamo.tables.jobs, audit, clock);
  marks = new DynamoObjectEventMarks(dynamo.db, dynamo.tables.triggerState, clock);
});
afterAll(() => dynamo.close());
beforeEach(() => {
  run++;
  started = [];
  deadLetters = [];
  logged = [];
  deps = {
    routes,
    endpoints,
    jobs,
    marks,
    drivers: engineDrivers(),
    executions: {
      start: async (job) => {
        started.push(job);
      },
      startBatch: async (batch) => {
        started.push(batch);
      },
    },
    deadLetters: {
      send: async (letter) => {
        deadLetters.push(letter);
      },
    },
    region: 'us-gov-west-1',
    logger: recordingLogger,
  };
});

function s3Endpoint(name: string, bucket: string, prefix: string, overrides: Partial<Endpoint> = {}): NewEndpoint {
  return {
    customerId: CUSTOMER,
    name,
    type: 'S3',
    direction: 'BOTH',
    status: 'ACTIVE',
    maxConcurrency: 4,
    s3: { bucket, prefix, region: 'us-gov-west-1', bucketOwner: OWNER },
    ...overrides,
  } as NewEndpoint;
}

/** A source bucket (its own per test), an ACTIVE source endpoint on it under out/, a target endpoint, and a route. */
async function routeSetup(
  source: Partial<Route['source']> = {},
  options: {
    target?: { bucket: string; prefix: string; path?: string };
    enabled?: boolean;
    sourceEndpoint?: Partial<Endpoint>;
  } = {},
) {
  const bucket = `src-bucket-${run}`;
  const sourceEndpoint = await endpoints.create(s3Endpoint('outbox', bucket, 'out/', options.sourceEndpoint), 'test');
  const target = options.target ?? { bucket: `dst-bucket-${run}`, prefix: 'in/' };
  const targetEndpoint = await endpoints.create(s3Endpoint('inbox', target.bucket, target.prefix), 'test');
  clock.advance(1);
  const route: NewRoute = {
    routeId: newRouteId(clock.now()),
    customerId: CUSTOMER,
    name: 'outbox to inbox',
    enabled: options.enabled ?? true,
    source: { endpointId: sourceEndpoint.endpointId, path: 'drop', includeSubfolders: false, ...source },
    target: { endpointId: targetEndpoint.endpointId, path: target.path ?? 'landed', createDirectories: false },
    sourceBucket: bucket,
  };
  return { bucket, sourceEndpoint, targetEndpoint, route: await routes.create(route, 'test') };
}

let eventSeq = 0;
/** An EventBridge S3 "Object Created" event, as the queue delivers its body. */
function objectCreated(
  bucket: string,
  key: string,
  object: { size?: number; etag?: string; versionId?: string; sequencer?: string; account?: string; id?: string } = {},
): string {
  eventSeq++;
  return JSON.stringify({
    version: '0',
    id: object.id ?? `evt-${run}-${eventSeq}`,
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: object.account ?? OWNER,
    time: '2026-12-02T12:00:00Z',
    region: 'us-gov-west-1',
    resources: [`arn:aws-us-gov:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: {
        key,
        size: object.size ?? 42,
        etag: object.etag ?? 'd41d8cd98f00b204e9800998ecf8427e',
        ...(object.versionId ? { 'version-id': object.versionId } : {}),
        sequencer: object.sequencer ?? '0062E99A88DC407460',
      },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: OWNER,
      reason: 'PutObject',
    },
  });
}

function delivered(outcome: IngestOutcome) {
  if (outcome.outcome !== 'DELIVERED') throw new Error(`expected a delivery, got ${JSON.stringify(outcome)}`);
  return outcome.jobs;
}

async function jobsOfCustomer() {
  return (await jobs.list(CUSTOMER, {}, { limit: 100 })).items;
}

describe('route ingestion against the real stores', () => {
  it('creates one job for an object in the route folder: trigger, actor, paths and createDirectories from the route', async () => {
    const { bucket, sourceEndpoint, targetEndpoint, route } = await routeSetup({ pattern: '*.csv' });
    const body = objectCreated(bucket, 'out/drop/report 1+2.csv', { size: 1234, versionId: 'v1', id: `evt-first-${run}` });

    const outcome = await ingestS3Event(deps, body);

    const [result] = delivered(outcome);
    expect(result).toMatchObject({ routeId: route.routeId, created: true });
    const job = await jobs.get({ customerId: CUSTOMER, jobId: result?.jobId ?? '' });
    expect(job).toMatchObject({
      status: 'QUEUED',
      flowType: 'S3_TO_S3',
      sourceEndpointId: sourceEndpoint.endpointId,
      // The key as EventBridge sends it (not URL-encoded), relative to the endpoint's prefix.
      sourcePath: 'drop/report 1+2.csv',
      targetEndpointId: targetEndpoint.endpointId,
      targetPath: 'landed/report 1+2.csv',
      bytesTotal: 1234,
      trigger: { kind: 'ROUTE', routeId: route.routeId, eventId: `evt-first-${run}` },
      createDirectories: false,
    });
    expect(job?.transitions.map((t) => [t.status, t.actor])).toEqual([
      ['RECEIVED', `route:${route.routeId}`],
      ['QUEUED', `route:${route.routeId}`],
    ]);
    expect(started).toEqual([expect.objectContaining({ customerId: CUSTOMER, jobId: job?.jobId })]);
    expect(deadLetters).toEqual([]);
  });

  it('the same event delivered three times creates one job', async () => {
    const { bucket } = await routeSetup();
    const body = objectCreated(bucket, 'out/drop/a.txt', { versionId: 'v1' });

    const outcomes = [await ingestS3Event(deps, body), await ingestS3Event(deps, body), await ingestS3Event(deps, body)];

    const results = outcomes.map((o) => delivered(o)[0]);
    expect(results.map((r) => r?.created)).toEqual([true, false, false]);
    expect(new Set(results.map((r) => r?.jobId)).size).toBe(1);
    const mine = (await jobsOfCustomer()).filter((j) => j.sourcePath === 'drop/a.txt' && j.targetEndpointId);
    expect(mine.filter((j) => j.jobId === results[0]?.jobId)).toHaveLength(1);
  });

  it('an event older than one already seen for the key (lower sequencer) creates nothing; a newer version is a new job', async () => {
    const { bucket } = await routeSetup();
    const newer = objectCreated(bucket, 'out/drop/b.txt', { versionId: 'v2', sequencer: '0062E99A88DC407470' });
    const older = objectCreated(bucket, 'out/drop/b.txt', { versionId: 'v1', sequencer: '0062E99A88DC407460' });
    const newest = objectCreated(bucket, 'out/drop/b.txt', { versionId: 'v3', sequencer: '0062E99A88DC407480' });

    const first = delivered(await ingestS3Event(deps, newer));
    expect(await ingestS3Event(deps, older)).toEqual({ outcome: 'DROPPED', reason: 'STALE_EVENT' });
    const third = delivered(await ingestS3Event(deps, newest));

    expect(third[0]?.jobId).not.toBe(first[0]?.jobId);
    expect(third[0]?.created).toBe(true);
    expect(started).toHaveLength(2);
    expect(logged.some((l) => l.fields?.reason === 'STALE_EVENT')).toBe(true);
  });

  it('in an unversioned bucket the ETag tells versions apart: a new ETag is a new job, the same one is not', async () => {
    const { bucket } = await routeSetup();
    const first = delivered(await ingestS3Event(deps, objectCreated(bucket, 'out/drop/c.txt', { etag: 'aaa', sequencer: '10' })));
    // S3 sends "null" as the version of an object written while versioning is off: no version, so the ETag counts.
    const rewritten = delivered(
      await ingestS3Event(deps, objectCreated(bucket, 'out/drop/c.txt', { etag: 'bbb', versionId: 'null', sequencer: '11' })),
    );
    const again = delivered(await ingestS3Event(deps, objectCreated(bucket, 'out/drop/c.txt', { etag: 'bbb', sequencer: '11' })));

    expect(rewritten[0]?.jobId).not.toBe(first[0]?.jobId);
    expect(again[0]).toEqual({ ...rewritten[0], created: false });
  });

  it('sequencers of different lengths compare as numbers (left-padded), not as strings', async () => {
    const key = `marks-${run}`;
    expect(await marks.advance('b', key, normalizeSequencer('FF'))).toBe('newer');
    // "100" > "FF" as numbers, though "1" < "F" as text.
    expect(await marks.advance('b', key, normalizeSequencer('100'))).toBe('newer');
    expect(await marks.advance('b', key, normalizeSequencer('0FF'))).toBe('stale');
    expect(await marks.advance('b', key, normalizeSequencer('100'))).toBe('same');
    expect(await marks.advance('b', key, normalizeSequencer('00100'))).toBe('same');
  });

  it('an event from an account that does not own the bucket (forged) creates nothing', async () => {
    const { bucket } = await routeSetup();

    const outcome = await ingestS3Event(deps, objectCreated(bucket, 'out/drop/forged.txt', { account: OTHER_ACCOUNT }));

    expect(outcome).toEqual({ outcome: 'DROPPED', reason: 'NO_MATCHING_ROUTE' });
    expect(started).toEqual([]);
    expect(logged.find((l) => l.level === 'warn')?.fields).toMatchObject({ account: OTHER_ACCOUNT, bucket });
    // Not even a sequencer mark: the real owner's later event of the key is not taken for stale.
    expect(await marks.advance(bucket, 'out/drop/forged.txt', normalizeSequencer('1'))).toBe('newer');
  });

  it('keys outside the folder, in sub-folders or not matching the pattern are dropped; includeSubfolders keeps the sub-path', async () => {
    const flat = await routeSetup({ pattern: '*.csv' });
    for (const key of ['out/elsewhere/x.csv', 'out/drop/sub/x.csv', 'out/drop/x.txt', 'out/drop/', 'drop/x.csv']) {
      expect({ key, outcome: await ingestS3Event(deps, objectCreated(flat.bucket, key)) }).toEqual({
        key,
        outcome: { outcome: 'DROPPED', reason: 'NO_MATCHING_ROUTE' },
      });
    }
    run++;
    const deep = await routeSetup({ includeSubfolders: true });
    const [result] = delivered(await ingestS3Event(deps, objectCreated(deep.bucket, 'out/drop/2026/12/x.bin')));
    expect(await jobs.get({ customerId: CUSTOMER, jobId: result?.jobId ?? '' })).toMatchObject({
      sourcePath: 'drop/2026/12/x.bin',
      targetPath: 'landed/2026/12/x.bin',
    });
  });

  it('a disabled route, or a source endpoint no longer ACTIVE, starts nothing (dropped, logged)', async () => {
    const disabled = await routeSetup({}, { enabled: false });
    expect(await ingestS3Event(deps, objectCreated(disabled.bucket, 'out/drop/x.txt'))).toEqual({
      outcome: 'DROPPED',
      reason: 'ROUTES_DISABLED',
    });
    run++;
    const paused = await routeSetup({}, { sourceEndpoint: { status: 'DISABLED' } });
    expect(await ingestS3Event(deps, objectCreated(paused.bucket, 'out/drop/x.txt'))).toEqual({
      outcome: 'DROPPED',
      reason: 'ENDPOINT_NOT_USABLE',
    });
    expect(started).toEqual([]);
    expect(deadLetters).toEqual([]);
    expect(logged.map((l) => l.fields?.reason)).toEqual(expect.arrayContaining(['ROUTES_DISABLED', 'ENDPOINT_NOT_USABLE']));
  });

  it('a route that would deliver into the folder it watches starts nothing (no job per job)', async () => {
    const bucket = `src-bucket-${run}`;
    const { route } = await routeSetup({ includeSubfolders: true }, { target: { bucket, prefix: 'out/', path: 'drop/copies' } });
    expect(route.sourceBucket).toBe(bucket);

    expect(await ingestS3Event(deps, objectCreated(bucket, 'out/drop/x.txt'))).toEqual({
      outcome: 'DROPPED',
      reason: 'ROUTE_LOOP',
    });
    expect(started).toEqual([]);
  });

  it('poison: a malformed event, and one for a bucket no route names, are dead-lettered with their reason', async () => {
    expect(await ingestS3Event(deps, 'not json')).toEqual({ outcome: 'DEAD_LETTERED', reason: 'MALFORMED_EVENT' });
    const noSequencer = JSON.parse(objectCreated('some-bucket', 'k'));
    delete noSequencer.detail.object.sequencer;
    expect(await ingestS3Event(deps, JSON.stringify(noSequencer))).toEqual({
      outcome: 'DEAD_LETTERED',
      reason: 'MALFORMED_EVENT',
    });
    const orphan = objectCreated(`no-route-bucket-${run}`, 'out/drop/x.txt');
    expect(await ingestS3Event(deps, orphan)).toEqual({ outcome: 'DEAD_LETTERED', reason: 'NO_ROUTE_FOR_BUCKET' });

    expect(deadLetters.map((l) => [l.reason, l.body])).toEqual([
      ['MALFORMED_EVENT', 'not json'],
      ['MALFORMED_EVENT', JSON.stringify(noSequencer)],
      ['NO_ROUTE_FOR_BUCKET', orphan],
    ]);
    expect(deadLetters[1]?.detail).toMatch(/detail\.object\.sequencer/);
    expect(deadLetters[2]?.detail).toContain(`no-route-bucket-${run}`);
  });

  it('a throttled store fails the event (for SQS to redeliver); the redelivery creates the job once', async () => {
    const { bucket } = await routeSetup();
    const body = objectCreated(bucket, 'out/drop/throttled.txt');
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    let failures = 1;
    const flaky: RouteIngestionDeps = {
      ...deps,
      // The real store, but its createMany fails once.
      jobs: Object.assign(Object.create(jobs) as typeof jobs, {
        createMany: (...args: Parameters<typeof jobs.createMany>) =>
          failures-- > 0 ? Promise.reject(throttled) : jobs.createMany(...args),
      }),
    };

    await expect(ingestS3Event(flaky, body)).rejects.toThrow('Rate exceeded');
    // The mark was raised before the failure: the redelivery's equal sequencer goes on to the create.
    const [result] = delivered(await ingestS3Event(flaky, body));
    expect(result?.created).toBe(true);
    expect(delivered(await ingestS3Event(flaky, body))[0]).toEqual({ ...result, created: false });
  });
});

/**
 * End to end through the local engine: the local S3's Object Created event
 * (EventBridge, both regions' ingest buses) or an event sent straight to the
 * S3 events queue → the rule's queue → ingestS3Events → job → state machine.
 */
describe('route ingestion through the local engine', () => {
  const ALICE_ACCOUNT = '111111111111';
  const WEST = 'us-gov-west-1';
  const EAST = 'us-gov-east-1';
  // The queues of custom.queues, named for the local stack's stage.
  let S3_EVENTS_QUEUE: string;
  let S3_EVENTS_DLQ: string;
  let engine: TestEngine;
  let alice: ApiClient;
  let s3: S3Client;
  let sqs: SQSClient;
  let outbox: string;
  let inbox: string;
  let route: Route;

  /** Polls `probe` (every 50 ms, as awaitJob does) until it returns a value; fails after `timeoutMs`. */
  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Both regions' S3 events queues hold nothing, in flight or waiting: every event sent so far is processed. */
  async function drained(): Promise<void> {
    await until('the S3 events queues drained', async () => {
      for (const region of [WEST, EAST]) {
        const client = sqsClient(engine.stack.info, region);
        try {
          const { Attributes = {} } = await client.send(
            new GetQueueAttributesCommand({
              QueueUrl: localQueueUrl(region, S3_EVENTS_QUEUE),
              AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
            }),
          );
          const waiting = Number(Attributes.ApproximateNumberOfMessages);
          const inFlight = Number(Attributes.ApproximateNumberOfMessagesNotVisible);
          if (Number.isNaN(waiting) || Number.isNaN(inFlight))
            throw new Error(`the queue's counts are missing: ${JSON.stringify(Attributes)}`);
          if (waiting + inFlight > 0) return undefined;
        } finally {
          client.destroy();
        }
      }
      return true;
    });
  }

  /** The job id a route's event for this object version gets (as createJobsForFiles derives it). */
  function expectedJobId(sourcePath: string, targetPath: string, size: number, version: string): string {
    return jobIdFor(
      'customer-a',
      deriveIdempotencyKey({
        sourceEndpointId: outbox,
        sourcePath,
        targetEndpointId: inbox,
        targetPath,
        file: { size, version },
      }),
    );
  }

  const jobOf = (jobId: string) => engine.stores.jobs.get({ customerId: 'customer-a', jobId });

  async function sendToQueue(body: string, region = WEST): Promise<void> {
    const client = region === WEST ? sqs : sqsClient(engine.stack.info, region);
    await client.send(new SendMessageCommand({ QueueUrl: localQueueUrl(region, S3_EVENTS_QUEUE), MessageBody: body }));
    if (client !== sqs) client.destroy();
  }

  /**
   * The first message on the west DLQ that `matches`. Others are taken off and ignored: locally every
   * customer bucket forwards its events, so the inbox's deliveries and the validation probes are there too
   * (NO_ROUTE_FOR_BUCKET), as they would be for a customer who forwarded a bucket without routes.
   */
  async function deadLetter(matches: (message: Message) => boolean): Promise<Message> {
    return until(
      'the dead letter',
      async () => (await receiveMessages(engine.stack.info, WEST, S3_EVENTS_DLQ, 1, 60_000)).find(matches),
      60_000,
    );
  }

  const event = (key: string, object: Parameters<typeof objectCreated>[2] = {}) =>
    objectCreated('customer-a-outbox', key, { account: ALICE_ACCOUNT, ...object });

  beforeAll(async () => {
    engine = await startTestEngine({ EFT_LOCAL_RETRY_INTERVAL_MS: '100' });
    alice = engine.alice.west;
    const info = engine.stack.info;
    S3_EVENTS_QUEUE = `eft-${info.stage}-s3-events`;
    S3_EVENTS_DLQ = `eft-${info.stage}-s3-events-dlq`;
    s3 = new S3Client({ endpoint: info.s3.endpoint, region: WEST, forcePathStyle: true, credentials: info.credentials });
    sqs = sqsClient(info, WEST);
    const s3Endpoint = (name: string, bucket: string, prefix: string) => ({
      type: 'S3',
      name,
      direction: 'BOTH',
      s3: { bucket, prefix, region: WEST },
    });
    [outbox, inbox] = await Promise.all([
      activeEndpoint(alice, s3Endpoint('outbox', 'customer-a-outbox', 'out/')),
      activeEndpoint(alice, s3Endpoint('inbox', 'customer-a-inbox', 'in/')),
    ]);
    route = await engine.stores.routes.create(
      {
        routeId: newRouteId(Date.now()),
        customerId: 'customer-a',
        name: 'outbox drop to inbox',
        enabled: true,
        source: { endpointId: outbox, path: 'drop', includeSubfolders: false },
        target: { endpointId: inbox, path: 'routed', createDirectories: true },
        sourceBucket: 'customer-a-outbox',
      },
      'test',
    );
  }, 180_000);
  afterAll(async () => {
    s3?.destroy();
    sqs?.destroy();
    await engine?.close();
  });

  it('an object dropped into the route’s folder arrives at the target exactly once, and GET /jobs shows its trigger', async () => {
    const content = randomBytes(1024);
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: 'customer-a-outbox',
        Key: 'out/drop/dropped.bin',
        Body: content,
        ExpectedBucketOwner: ALICE_ACCOUNT,
      }),
    );
    const etag = (put.ETag ?? '').replace(/"/g, '');
    const jobId = expectedJobId('drop/dropped.bin', 'routed/dropped.bin', content.length, etag);

    await until('the route’s job', () => jobOf(jobId));
    const job = await awaitJob(alice, jobId, 120_000);
    expect(job).toMatchObject({
      status: 'SUCCEEDED',
      trigger: { kind: 'ROUTE', routeId: route.routeId, eventId: expect.any(String) },
    });
    const arrived = await s3.send(
      new GetObjectCommand({ Bucket: 'customer-a-inbox', Key: 'in/routed/dropped.bin', ExpectedBucketOwner: ALICE_ACCOUNT }),
    );
    expect(Buffer.from(await (arrived.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray())).toEqual(
      content,
    );

    // Both regions took the event; one job, listed like any other with what started it.
    await drained();
    const listed = await alice.get(`/jobs?requestId=${job.requestId}&limit=100`);
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0]).toMatchObject({
      jobId,
      trigger: { kind: 'ROUTE', routeId: route.routeId, eventId: job.trigger.eventId },
    });
    const inTarget = await s3.send(
      new ListObjectsV2Command({ Bucket: 'customer-a-inbox', Prefix: 'in/routed/dropped', ExpectedBucketOwner: ALICE_ACCOUNT }),
    );
    expect((inTarget.Contents ?? []).map((o) => o.Key)).toEqual(['in/routed/dropped.bin']);
  });

  it('the same EventBridge event sent to the queue three times creates one job', async () => {
    const body = event('out/drop/thrice.txt', { size: 7, versionId: 'thrice-v1', sequencer: '0A00' });
    const jobId = expectedJobId('drop/thrice.txt', 'routed/thrice.txt', 7, 'thrice-v1');

    await Promise.all([sendToQueue(body), sendToQueue(body), sendToQueue(body)]);
    await until('the job', () => jobOf(jobId));
    await drained();

    const job = await jobOf(jobId);
    const siblings = await engine.stores.jobs.list('customer-a', { requestId: job?.requestId ?? '' }, { limit: 10 });
    expect(siblings.items.map((j) => j.jobId)).toEqual([jobId]);
    // The job's first transitions were written once, by the route.
    expect(job?.transitions.slice(0, 2).map((t) => [t.status, t.actor])).toEqual([
      ['RECEIVED', `route:${route.routeId}`],
      ['QUEUED', `route:${route.routeId}`],
    ]);
  });

  it('an older sequencer after a newer one creates nothing; a new version of the key is a new job', async () => {
    const newer = event('out/drop/ordered.txt', { size: 5, versionId: 'ordered-v2', sequencer: '0B20' });
    const older = event('out/drop/ordered.txt', { size: 5, versionId: 'ordered-v1', sequencer: '0B10' });
    const newest = event('out/drop/ordered.txt', { size: 6, versionId: 'ordered-v3', sequencer: '0B30' });
    const jobIds = ['ordered-v2', 'ordered-v1', 'ordered-v3'].map((v, i) =>
      expectedJobId('drop/ordered.txt', 'routed/ordered.txt', i === 2 ? 6 : 5, v),
    );

    await sendToQueue(newer);
    await until('the newer version’s job', () => jobOf(jobIds[0] ?? ''));
    await drained();
    await sendToQueue(older);
    await drained();
    expect(await jobOf(jobIds[1] ?? '')).toBeUndefined();
    // The drop's log line comes over the region process's stdout, not the queue: awaited on its own channel.
    await until('the STALE_EVENT log line', async () =>
      engine.stack.logs().find((line) => line.includes('STALE_EVENT') && line.includes('ordered.txt')),
    );

    await sendToQueue(newest);
    const third = await until('the new version’s job', () => jobOf(jobIds[2] ?? ''));
    expect(third.jobId).not.toBe(jobIds[0]);
  });

  it('a poison event goes to the DLQ with its reason, and a good event after it is still processed', async () => {
    await sendToQueue('{"this is": "not an S3 event"}');
    const good = event('out/drop/after-poison.txt', { size: 3, versionId: 'after-v1', sequencer: '0C00' });
    await sendToQueue(good);

    const letter = await deadLetter((m) => m.Body === '{"this is": "not an S3 event"}');
    expect(letter.MessageAttributes?.reason?.StringValue).toBe('MALFORMED_EVENT');
    expect(letter.MessageAttributes?.detail?.StringValue).toMatch(/detail-type|source|detail/);
    await until('the good event’s job', () =>
      jobOf(expectedJobId('drop/after-poison.txt', 'routed/after-poison.txt', 3, 'after-v1')),
    );

    // An event for a bucket that no route names is poison too.
    const orphanEvent = objectCreated('customer-b-inbox', 'orphan.txt', { account: '222222222222' });
    await sendToQueue(orphanEvent);
    const orphan = await deadLetter((m) => m.Body === orphanEvent);
    expect(orphan.MessageAttributes?.reason?.StringValue).toBe('NO_ROUTE_FOR_BUCKET');
    expect(orphan.MessageAttributes?.detail?.StringValue).toContain('customer-b-inbox');
  });

  it('a forged event (an account that does not own the bucket) creates nothing', async () => {
    const forged = event('out/drop/forged.txt', { size: 9, versionId: 'forged-v1', sequencer: '0D00', account: '222222222222' });
    await sendToQueue(forged);
    await drained();

    expect(await jobOf(expectedJobId('drop/forged.txt', 'routed/forged.txt', 9, 'forged-v1'))).toBeUndefined();
    await until('the owner-mismatch log line', async () =>
      engine.stack.logs().find((line) => line.includes('does not own the bucket') && line.includes('222222222222')),
    );
  });
});
