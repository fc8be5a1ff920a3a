// Customer notifications (issue 16) on the local engine: every job state change as an EventBridge
// event on the region's default bus (observed through a rule to a queue, as a customer would
// subscribe), and webhooks: registration, signed deliveries, retries with backoff, the delivery log,
// and the refusals (validation, SSRF, another customer's webhook).

import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { verifySignature } from '../../core/control-plane/notifications/signature';
import type { ApiClient } from '../../local/api-client';
import { JOB_EVENTS_DEMO_QUEUE, withCustomerJobEventsRule } from '../../local/customer-rule';
import { awaitJob } from '../../local/jobs';
import { customerS3Client } from '../../local/s3';
import { REGIONS } from '../../local/stack';
import { activeEndpoint, receiveMessages, startTestEngine, type TestEngine } from '../support/local-engine';
import { startWebhookReceiver } from '../support/webhook-receiver';

interface ObservedEvent {
  source: string;
  'detail-type': string;
  region: string;
  detail: { jobId: string; status: string; [key: string]: unknown };
}

let engine: TestEngine;
let alice: ApiClient;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let s3: S3Client;
let outbox: string;
let inbox: string;
let run = 0;

beforeAll(async () => {
  // Webhook retries after 1 s, 2 s, … instead of 30 s, 60 s, …
  engine = await startTestEngine({ WEBHOOK_RETRY_BASE_SECONDS: '1' }, { amendConfig: withCustomerJobEventsRule });
  alice = engine.alice.west;
  receiver = await startWebhookReceiver();
  s3 = customerS3Client(engine.stack.info.s3.endpoint);
  const s3Endpoint = (name: string, bucket: string, prefix: string) => ({
    type: 'S3',
    name,
    direction: 'BOTH',
    s3: { bucket, prefix, region: 'us-gov-west-1' },
  });
  [outbox, inbox] = await Promise.all([
    activeEndpoint(alice, s3Endpoint('outbox', 'customer-a-outbox', 'out/')),
    activeEndpoint(alice, s3Endpoint('inbox', 'customer-a-inbox', 'in/')),
  ]);
}, 120_000);
afterAll(async () => {
  s3?.destroy();
  await receiver?.close();
  await engine?.close();
});

/** A transfer of one new object through `client`'s region; its job, once ended. */
async function transfer(client: ApiClient) {
  run++;
  await s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: `out/n-${run}.txt`, Body: `notify ${run}` }));
  const created = await client.post('/transfers', {
    source: { endpointId: outbox, path: `n-${run}.txt` },
    target: { endpointId: inbox, path: `n-${run}.txt` },
  });
  expect(created.status).toBe(201);
  return awaitJob(client, created.body.jobs[0].jobId, 60_000);
}

/** The region's events (through the test's rule) until `until` says enough, in order of arrival. */
async function eventsUntil(region: string, until: (events: ObservedEvent[]) => boolean): Promise<ObservedEvent[]> {
  const events: ObservedEvent[] = [];
  while (!until(events)) {
    const [message] = await receiveMessages(engine.stack.info, region, JOB_EVENTS_DEMO_QUEUE, 1, 60_000);
    events.push(JSON.parse(message?.Body ?? '{}') as ObservedEvent);
  }
  return events;
}

describe('issue 16: job events and webhooks (local engine)', () => {
  let job: { jobId: string; status: string };
  let secret: string;
  let okHook: string;
  let flakyHook: string;

  beforeAll(async () => {
    receiver.answer('/flaky', [500, 503]);
    const ok = await alice.post('/webhooks', { url: receiver.url('/ok'), events: ['SUCCEEDED', 'FAILED'] });
    const flaky = await alice.post('/webhooks', { url: receiver.url('/flaky'), events: ['SUCCEEDED'] });
    expect([ok.status, flaky.status]).toEqual([201, 201]);
    okHook = ok.body.id;
    flakyHook = flaky.body.id;
    secret = ok.body.secret;
    job = await transfer(alice);
    expect(job.status).toBe('SUCCEEDED');
  }, 120_000);

  it('publishes each state change of a job once, on the default bus of the region that made it, with the job view and no secret', async () => {
    const west = await eventsUntil(REGIONS.west, (events) =>
      events.some((e) => e.detail.jobId === job.jobId && e['detail-type'] === 'Job SUCCEEDED'),
    );
    const ofJob = west.filter((e) => e.detail.jobId === job.jobId);
    expect(ofJob.map((e) => e['detail-type'])).toEqual([
      'Job RECEIVED',
      'Job QUEUED',
      'Job RUNNING',
      'Job VERIFYING',
      'Job SUCCEEDED',
    ]);
    for (const event of ofJob) {
      expect(event.source).toBe('eft');
      expect(event.region).toBe(REGIONS.west);
      expect(Object.keys(event.detail)).toEqual(
        expect.arrayContaining(['jobId', 'status', 'flowType', 'source', 'target', 'transitions']),
      );
    }
    expect(ofJob.at(-1)?.detail).toEqual((await alice.get(`/jobs/${job.jobId}`)).body);
    const text = JSON.stringify(ofJob);
    expect(text).not.toContain(secret);
    expect(text).not.toMatch(/fenceEpoch|checkpoint|password|secretRef|idempotencyKey/);

    // East's stream carries the same writes (one global table) but announces none of them: a job run
    // from east afterwards is the marker that east has handled every earlier record, in order.
    const marker = await transfer(engine.alice.east);
    const east = await eventsUntil(REGIONS.east, (events) =>
      events.some((e) => e.detail.jobId === marker.jobId && e['detail-type'] === 'Job SUCCEEDED'),
    );
    expect(east.filter((e) => e.detail.jobId === job.jobId)).toEqual([]);
    expect(east.filter((e) => e.detail.jobId === marker.jobId).map((e) => e['detail-type'])).toEqual([
      'Job RECEIVED',
      'Job QUEUED',
      'Job RUNNING',
      'Job VERIFYING',
      'Job SUCCEEDED',
    ]);
  }, 120_000);

  it('delivers SUCCEEDED to a webhook, signed with its secret over timestamp and body', async () => {
    const [delivery] = await receiver.requests('/ok', 1, ofJob(job.jobId));
    if (!delivery) throw new Error('no delivery');
    const body = JSON.parse(delivery.body);
    expect(body).toMatchObject({
      source: 'eft',
      'detail-type': 'Job SUCCEEDED',
      detail: { jobId: job.jobId, status: 'SUCCEEDED' },
    });
    expect(delivery.headers['eft-delivery']).toBe(body.id);
    const signature = String(delivery.headers['eft-signature']);
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifySignature(secret, delivery.body, signature, Math.floor(Date.now() / 1000))).toBe(true);
    expect(verifySignature(secret, `${delivery.body} `, signature, Math.floor(Date.now() / 1000))).toBe(false);
    expect(verifySignature(`${secret}x`, delivery.body, signature, Math.floor(Date.now() / 1000))).toBe(false);
    const log = await waitForDelivery(okHook, job.jobId, 'SUCCEEDED');
    expect(log).toMatchObject({ jobId: job.jobId, event: 'SUCCEEDED', status: 'SUCCEEDED', attempts: 1, lastHttpStatus: 200 });
    expect(log).not.toHaveProperty('payload');
  }, 60_000);

  it('retries a failing receiver with backoff; the delivery log shows the attempts', async () => {
    const attempts = await receiver.requests('/flaky', 3, ofJob(job.jobId));
    // The same delivery each time, signed again at each attempt.
    expect(new Set(attempts.map((a) => a.headers['eft-delivery'])).size).toBe(1);
    expect(new Set(attempts.map((a) => a.body)).size).toBe(1);
    const log = await waitForDelivery(flakyHook, job.jobId, 'SUCCEEDED');
    expect(log).toMatchObject({ status: 'SUCCEEDED', attempts: 3, lastHttpStatus: 200 });
    expect(Date.parse(String(log.lastAttemptAt)) - Date.parse(String(log.createdAt))).toBeGreaterThanOrEqual(3000 - 1000);
  }, 60_000);

  it('lists webhooks without their secrets; another customer sees none of them', async () => {
    const listed = await alice.get('/webhooks');
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((w: { id: string }) => w.id)).toEqual(expect.arrayContaining([okHook, flakyHook]));
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(JSON.stringify(listed.body)).not.toMatch(/secret/i);
    const bob = engine.bob.west;
    expect((await bob.get('/webhooks')).body.items).toEqual([]);
    expect((await bob.get(`/webhooks/${okHook}/deliveries`)).status).toBe(404);
    expect((await bob.delete(`/webhooks/${okHook}`)).status).toBe(404);
    expect((await alice.get(`/webhooks/${okHook}/deliveries`)).status).toBe(200);
  });

  it.each([
    ['a URL that is not https', { url: 'ftp://partner.example.gov/hook', events: ['SUCCEEDED'] }, 'url'],
    ['the metadata service', { url: 'https://169.254.169.254/latest', events: ['SUCCEEDED'] }, 'url'],
    ['a private address', { url: 'https://10.0.0.8/hook', events: ['SUCCEEDED'] }, 'url'],
    ['credentials in the URL', { url: 'https://user:pw@hooks.example.gov/', events: ['SUCCEEDED'] }, 'url'],
    ['not a URL', { url: 'hooks', events: ['SUCCEEDED'] }, 'url'],
    ['an event webhooks do not get', { url: 'https://hooks.example.gov/', events: ['RUNNING'] }, 'events.0'],
    ['no event', { url: 'https://hooks.example.gov/', events: [] }, 'events'],
    ['an unknown field', { url: 'https://hooks.example.gov/', events: ['FAILED'], secret: 'mine' }, 'secret'],
  ])('refuses %s, naming the field', async (_what, body, field) => {
    const response = await alice.post('/webhooks', body);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
    expect(response.body.error.fields.map((f: { field: string }) => f.field)).toContain(field);
  });

  it('deletes a webhook: gone from the list, its deliveries no longer readable', async () => {
    const created = await alice.post('/webhooks', { url: 'https://hooks.example.gov/x', events: ['FAILED'] });
    expect(created.status).toBe(201);
    expect((await alice.delete(`/webhooks/${created.body.id}`)).status).toBe(200);
    expect((await alice.get('/webhooks')).body.items.map((w: { id: string }) => w.id)).not.toContain(created.body.id);
    expect((await alice.get(`/webhooks/${created.body.id}/deliveries`)).status).toBe(404);
  });
});

/** Deliveries of one job's events (the receiver also gets the marker job's). */
const ofJob = (jobId: string) => (request: { body: string }) => JSON.parse(request.body).detail?.jobId === jobId;

/** The webhook's delivery log entry of the job once it has the status (the log is written after the receiver answered). */
async function waitForDelivery(webhookId: string, jobId: string, status: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await alice.get(`/webhooks/${webhookId}/deliveries`);
    expect(response.status).toBe(200);
    const entry = (response.body.items as Array<Record<string, unknown>>).find((d) => d.jobId === jobId);
    if (entry?.status === status) return entry;
    if (Date.now() > deadline) throw new Error(`delivery of ${webhookId} still ${JSON.stringify(entry)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
