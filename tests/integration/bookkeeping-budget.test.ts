import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ApiClient } from '../../local/api-client';
import { activeEndpoint, partnerEndpoint, startTestEngine, type TestEngine } from '../support/local-engine';

/**
 * The DynamoDB requests a job's bookkeeping costs (issue 18), counted by the local DynamoDB
 * (LocalStack.dynamoRequests) from the request to the end of its execution: a folder of small SFTP
 * files batched into one worker task, and one S3→S3 copy alone. Counts, not time: a change that
 * adds a request per file or per job fails here instead of only in the bench.
 *
 * Counted: the tables of the jobs' own bookkeeping (jobs, audit, leases, endpoints, principals).
 * Not counted: this test's own reads (subtracted), the reconciler's (see beforeAll), and what the
 * deliveries cause elsewhere (route ingestion of the objects that
 * land in the bucket, webhook look-ups for the job events): those are other features' costs.
 */
const BOOKKEEPING_TABLES = ['jobs', 'audit', 'leases', 'endpoints', 'principals'];
const CUSTOMER = 'customer-a';

/**
 * Per small file (measured 3.45–3.5 here): 3 conditional writes (created QUEUED, claimed RUNNING,
 * ended SUCCEEDED with its verified result), its 5 audit events in batch writes shared with other
 * files (~0.4), and the batch's own reads shared by its files (docs/benchmarks.md, round two).
 */
const PER_SMALL_FILE = 3.6;
/**
 * An S3→S3 job alone (measured 8; 17 before round two): its request (both endpoints in one
 * BatchGetItem, the job, its 2 audit events in one write), StartTransfer (the lease and the RUNNING
 * write, without reading the job first: the execution's input names its partition; the RUNNING event
 * goes with the end's), CopyS3Object (reading neither the job nor its endpoints: StartTransfer hands
 * on the job as its claim wrote it, and the endpoints the request checked, from the execution's
 * input; no lease renewal while the acquisition is fresh; SUCCEEDED with the verified result and 3
 * events in one write) and ReleaseLease; one more if the copy starts its CopyObject more than half a
 * heartbeat after StartTransfer took the lease (busy cores) and renews first.
 */
const PER_S3_COPY = 9;
const FILES = 100;

let engine: TestEngine;
let alice: ApiClient;
let s3: S3Client;
let partnerOut: string;
let inbox: string;
let outbox: string;
let run = 0;
/** Requests this test made itself, by kind, to subtract. */
const own: Record<string, number> = {};

function bookkeeping(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const counted: Record<string, number> = {};
  for (const [kind, n] of Object.entries(after)) {
    const table = kind.split(' ')[1];
    if (!table || !BOOKKEEPING_TABLES.includes(table)) continue;
    const made = n - (before[kind] ?? 0) - (own[kind] ?? 0);
    if (made > 0) counted[kind] = made;
  }
  return counted;
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);

/** Waits until every job of the request has ended, then until its execution released the lease (its last step). */
async function awaitRequestEnd(requestId: string, count: number): Promise<string[]> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    own['Query jobs'] = (own['Query jobs'] ?? 0) + 1;
    const page = await engine.stores.jobs.list(CUSTOMER, { requestId }, { limit: 100 });
    const ended = page.items.filter((job) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status));
    if (page.items.length === count && ended.length === count) {
      const partitionId = page.items[0]?.partitionId as string;
      for (;;) {
        own['GetItem leases'] = (own['GetItem leases'] ?? 0) + 1;
        const lease = await engine.stores.leases.get(partitionId);
        if (lease?.expiresAt === 0) return page.items.map((job) => job.status);
        if (Date.now() > deadline) throw new Error(`the lease of ${partitionId} was not released`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    if (Date.now() > deadline) throw new Error(`${ended.length} of ${count} jobs of ${requestId} ended`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  // What depends on time, not on files, is kept out: the reconciler's tick (every minute in AWS) an
  // hour apart (it reads the jobs not yet ended of every partition nobody holds), and a worker's
  // progress writes a minute apart (one per second of a file still moving: on busy cores a 1 KiB
  // file can take that long between its bytes and its end).
  engine = await startTestEngine(
    { EFT_LOCAL_RETRY_INTERVAL_MS: '100', EFT_PROGRESS_INTERVAL_MS: '60000' },
    { scheduleTickSeconds: 3600 },
  );
  alice = engine.alice.west;
  const info = engine.stack.info;
  s3 = new S3Client({ endpoint: info.s3.endpoint, region: 'us-gov-west-1', forcePathStyle: true, credentials: info.credentials });
  await mkdir(join(info.partnerSftp.root, 'outbound'), { recursive: true });
  const s3Endpoint = (name: string, bucket: string, prefix: string) => ({
    type: 'S3',
    name,
    direction: 'BOTH',
    s3: { bucket, prefix, region: 'us-gov-west-1' },
  });
  [partnerOut, inbox, outbox] = await Promise.all([
    activeEndpoint(alice, await partnerEndpoint(info, { name: 'partner outbound', direction: 'BOTH', basePath: '/outbound' })),
    activeEndpoint(alice, s3Endpoint('inbox', 'customer-a-inbox', 'in/')),
    activeEndpoint(alice, s3Endpoint('outbox', 'customer-a-outbox', 'out/')),
  ]);
}, 120_000);
afterAll(async () => {
  s3.destroy();
  await engine.close();
});
beforeEach(() => {
  run++;
});

describe('DynamoDB requests of the job bookkeeping', () => {
  it(`a folder of ${FILES} small SFTP files in one batch costs at most ${PER_SMALL_FILE} requests per file`, async () => {
    const dir = join(engine.stack.info.partnerSftp.root, 'outbound', `budget-${run}`);
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < FILES; i++) await writeFile(join(dir, `f-${i}.dat`), randomBytes(1024));

    const before = engine.stack.dynamoRequests();
    const response = await alice.post('/transfers', {
      source: { endpointId: partnerOut, path: `budget-${run}/` },
      target: { endpointId: inbox, path: `budget-${run}` },
    });
    expect(response.status).toBe(201);
    const statuses = await awaitRequestEnd(response.body.requestId, FILES);
    const counts = bookkeeping(before, engine.stack.dynamoRequests());

    expect(statuses).toEqual(Array(FILES).fill('SUCCEEDED'));
    // The batch's lease: taken and released once, renewed once per heartbeat (a second locally)
    // however many files, so the count depends on how long the batch took, not on how many files.
    const { 'UpdateItem leases': _renewals, 'GetItem leases': _leaseReads, ...perFileCounts } = counts;
    const perFile = total(perFileCounts) / FILES;
    // Within the budget (a failure shows the counts, by operation and table, in the diff).
    expect({ perFile, perFileCounts }).toEqual({ perFile: Math.min(perFile, PER_SMALL_FILE), perFileCounts });
    // Created, claimed, and ended with its verified result: three writes per file.
    expect((counts['PutItem jobs'] ?? 0) + (counts['UpdateItem jobs'] ?? 0)).toBe(3 * FILES);
    // Every state of every job is in the audit trail, the claim's too (written with the job's end).
    const [first] = (await engine.stores.jobs.list(CUSTOMER, { requestId: response.body.requestId }, { limit: 1 })).items;
    const trail = await engine.stores.audit.list(`job#${first?.jobId}`, { limit: 20 });
    expect(trail.items.map((event) => event.action).sort()).toEqual(
      ['job.created', 'job.queued', 'job.running', 'job.verifying', 'job.succeeded'].sort(),
    );
  }, 240_000);

  it(`one S3→S3 copy, created → SUCCEEDED, costs at most ${PER_S3_COPY} requests`, async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: `out/budget-${run}.bin`, Body: randomBytes(1024) }));

    const before = engine.stack.dynamoRequests();
    const response = await alice.post('/transfers', {
      source: { endpointId: outbox, path: `budget-${run}.bin` },
      target: { endpointId: inbox, path: `budget-copies/budget-${run}.bin` },
    });
    expect(response.status).toBe(201);
    const statuses = await awaitRequestEnd(response.body.requestId, 1);
    const counts = bookkeeping(before, engine.stack.dynamoRequests());

    expect(statuses).toEqual(['SUCCEEDED']);
    const perJob = total(counts);
    expect({ perJob, counts }).toEqual({ perJob: Math.min(perJob, PER_S3_COPY), counts });
    // Created, claimed, and ended with its verified result: three writes of the job.
    expect((counts['PutItem jobs'] ?? 0) + (counts['UpdateItem jobs'] ?? 0)).toBe(3);
    // Read by the request only: the copy got the claimed job and the checked endpoints from its execution.
    expect({ jobReads: counts['GetItem jobs'], endpointReads: counts['BatchGetItem endpoints'] }).toEqual({
      jobReads: undefined,
      endpointReads: 1,
    });
    // Every state is in the audit trail, the claim's too (written with the job's end).
    const [job] = (await engine.stores.jobs.list(CUSTOMER, { requestId: response.body.requestId }, { limit: 1 })).items;
    const trail = await engine.stores.audit.list(`job#${job?.jobId}`, { limit: 20 });
    expect(trail.items.map((event) => event.action)).toEqual([
      'job.created',
      'job.queued',
      'job.running',
      'job.verifying',
      'job.succeeded',
    ]);
  }, 120_000);
});
