import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UpdateItemCommand, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createDynamoClient } from '../../core/adapters/dynamodb/client';
import type { ApiClient } from '../../local/api-client';
import { awaitJob } from '../../local/jobs';
import { customerS3Client } from '../../local/s3';
import { activeEndpoint, startTestEngine, type TestEngine } from '../support/local-engine';

/**
 * Customer B (bob, account 222222222222) tries every route to customer A's
 * buckets (alice, account 111111111111): registering them, claiming A's
 * account, activating anyway, and, with the engine's bookkeeping bypassed (the
 * endpoint forced ACTIVE in DynamoDB, as a bug could), moving data out of and
 * into them through the real state machine, copy Lambda and worker. S3 itself
 * (the local stand-in enforcing the bucket owner condition) must refuse each.
 */
const A_OUTBOX = 'customer-a-outbox';
const A_INBOX = 'customer-a-inbox';
const A_ACCOUNT = '111111111111';
const B_ACCOUNT = '222222222222';

let engine: TestEngine;
let bob: ApiClient;
let s3: S3Client;
let bobSftpId: string;
let bobInboxId: string;
let aliceObjects: () => Promise<string[]>;

const s3Endpoint = (bucket: string, prefix: string, direction: string, extra: Record<string, unknown> = {}) => ({
  type: 'S3',
  name: `${bucket} ${direction}`,
  direction,
  s3: { bucket, prefix, region: 'us-gov-west-1', ...extra },
});

async function keysIn(bucket: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (listed.Contents ?? []).map((o) => o.Key ?? '').sort();
}

/** Changes an endpoint's record in DynamoDB directly, past the API and its checks. */
async function rewriteEndpoint(
  customerId: string,
  endpointId: string,
  update: Pick<UpdateItemCommandInput, 'UpdateExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>,
): Promise<void> {
  const db = createDynamoClient(engine.stack.info.regions['us-gov-west-1']?.environment ?? {});
  await db.send(
    new UpdateItemCommand({
      TableName: engine.stack.info.tables.endpoints,
      Key: marshall({ customerId, endpointId }),
      ...update,
    }),
  );
  db.destroy();
}

/** The bookkeeping bypassed: the endpoint is made ACTIVE without passing validation. */
const forceActive = (customerId: string, endpointId: string) =>
  rewriteEndpoint(customerId, endpointId, {
    UpdateExpression: 'SET #status = :active',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: marshall({ ':active': 'ACTIVE' }),
  });

/** B's S3 endpoint on one of A's buckets, as the API records it (owner: B's account), forced ACTIVE. */
async function bobEndpointOn(bucket: string, prefix: string, direction: string): Promise<string> {
  const created = await bob.post('/endpoints', s3Endpoint(bucket, prefix, direction));
  expect(created.status).toBe(201);
  expect(created.body.s3.bucketOwner).toBe(B_ACCOUNT);
  await forceActive('customer-b', created.body.id);
  return created.body.id;
}

beforeAll(async () => {
  engine = await startTestEngine({ EFT_LOCAL_RETRY_INTERVAL_MS: '100' });
  bob = engine.bob.west;
  s3 = customerS3Client(engine.stack.info.s3.endpoint);
  await s3.send(new PutObjectCommand({ Bucket: A_OUTBOX, Key: 'out/ledger.csv', Body: 'alice,secret,ledger\n' }));
  await s3.send(new PutObjectCommand({ Bucket: A_OUTBOX, Key: 'out/2026/ledger.csv', Body: 'alice,secret,ledger\n' }));
  await s3.send(new PutObjectCommand({ Bucket: A_INBOX, Key: 'in/existing.csv', Body: 'alice,inbox\n' }));
  aliceObjects = async () => [...(await keysIn(A_OUTBOX)), ...(await keysIn(A_INBOX))];
  const partner = engine.stack.info.partnerSftp;
  await mkdir(join(partner.root, 'bob'), { recursive: true });
  await writeFile(join(partner.root, 'bob', 'plant.csv'), 'bob,planted\n');
  bobSftpId = await activeEndpoint(bob, {
    type: 'SFTP',
    name: 'bob partner',
    direction: 'BOTH',
    sftp: {
      host: partner.host,
      port: partner.port,
      username: partner.username,
      basePath: '/bob',
      hostKeyFingerprint: partner.hostKeyFingerprint,
    },
    credentials: { password: partner.password },
  });
  bobInboxId = await activeEndpoint(bob, s3Endpoint('customer-b-inbox', 'in/', 'BOTH'));
}, 90_000);
afterAll(async () => {
  s3?.destroy();
  await engine?.close();
});

describe('a customer cannot use a bucket of another customer', () => {
  it("fails validation of an endpoint on another customer's bucket with BUCKET_NOT_OWNED, writing no probe there", async () => {
    const before = await aliceObjects();
    const created = await bob.post('/endpoints', s3Endpoint(A_OUTBOX, 'out/', 'BOTH'));
    expect(created.status).toBe(201);

    const validated = await bob.post(`/endpoints/${created.body.id}/validate`);

    expect(validated.body.endpoint).toMatchObject({ status: 'VALIDATION_FAILED' });
    expect(validated.body.validation).toMatchObject({ ok: false, reason: 'BUCKET_NOT_OWNED' });
    expect(await aliceObjects()).toEqual(before);
    const activated = await bob.patch(`/endpoints/${created.body.id}`, { status: 'ACTIVE' });
    expect(activated.status).toBe(409);
  });

  it("refuses to record another customer's account as the bucket owner (400 naming s3.bucketOwner)", async () => {
    const created = await bob.post('/endpoints', s3Endpoint(A_OUTBOX, 'out/', 'BOTH', { bucketOwner: A_ACCOUNT }));
    expect(created.status).toBe(400);
    expect(created.body.error.fields).toEqual([
      { field: 's3.bucketOwner', message: expect.stringContaining('not an account of yours') },
    ]);

    const own = await bob.post('/endpoints', s3Endpoint('customer-b-inbox', 'in/', 'BOTH'));
    const patched = await bob.patch(`/endpoints/${own.body.id}`, { s3: { bucket: A_OUTBOX, bucketOwner: A_ACCOUNT } });
    expect(patched.status).toBe(400);
    expect(patched.body.error.fields[0].field).toBe('s3.bucketOwner');
  });

  it("refuses the engine's own account as a bucket owner", async () => {
    const created = await bob.post('/endpoints', s3Endpoint('customer-b-inbox', 'in/', 'BOTH', { bucketOwner: '000000000000' }));
    expect(created.status).toBe(400);
    expect(created.body.error.fields[0]).toMatchObject({
      field: 's3.bucketOwner',
      message: expect.stringContaining("engine's own"),
    });
  });
});

describe('with the bookkeeping bypassed, S3 still refuses every route to the other customer’s buckets', () => {
  it("cannot read another customer's object: the transfer is refused at the source", async () => {
    const forced = await bobEndpointOn(A_OUTBOX, 'out/', 'OUTBOUND');
    for (const [targetId, path] of [
      [bobInboxId, 'stolen.csv'],
      [bobSftpId, 'stolen.csv'],
    ] as const) {
      const file = await bob.post('/transfers', {
        source: { endpointId: forced, path: 'ledger.csv' },
        target: { endpointId: targetId, path },
      });
      expect(file.status).toBe(409);
      expect(file.body.error.code).toBe('SOURCE_ACCESS_DENIED');
      const folder = await bob.post('/transfers', {
        source: { endpointId: forced, path: '2026/' },
        target: { endpointId: targetId, path: 'stolen' },
      });
      expect(folder.status).toBe(409);
      expect(folder.body.error.code).toBe('SOURCE_ACCESS_DENIED');
    }
    expect(await keysIn('customer-b-inbox')).not.toContainEqual(expect.stringContaining('stolen'));
    expect(await readdir(join(engine.stack.info.partnerSftp.root, 'bob'))).toEqual(['plant.csv']);
  });

  it.each([
    ['SFTP_TO_S3 (the worker)', () => bobSftpId, 'plant.csv', 'ACCESS_DENIED'],
    ['S3_TO_S3 (the copy Lambda)', () => bobInboxId, 'existing-b.csv', 'ACCESS_DENIED'],
  ])(
    "cannot write into another customer's bucket: %s fails, and the bucket is unchanged",
    async (flow, sourceId, path, code) => {
      if (flow.startsWith('S3_TO_S3')) {
        await s3.send(new PutObjectCommand({ Bucket: 'customer-b-inbox', Key: `in/${path}`, Body: 'bob,object\n' }));
      }
      const before = await aliceObjects();
      const forced = await bobEndpointOn(A_INBOX, 'in/', 'INBOUND');

      const created = await bob.post('/transfers', {
        source: { endpointId: sourceId(), path },
        target: { endpointId: forced, path: `planted-${path}` },
      });
      expect(created.status).toBe(201);
      const job = await awaitJob(bob, created.body.jobs[0].jobId, 60_000);

      expect(job).toMatchObject({ status: 'FAILED', flowType: flow.split(' ')[0], error: { code } });
      expect(await aliceObjects()).toEqual(before);
    },
    90_000,
  );
});

describe('an S3 endpoint registered before bucket ownership (no s3.bucketOwner)', () => {
  /** As an upgrade finds it: the record as it was written before the owner was recorded. */
  const withoutOwner = (customerId: string, endpointId: string) =>
    rewriteEndpoint(customerId, endpointId, { UpdateExpression: 'REMOVE s3.bucketOwner' });

  it('takes no transfer and fails validation until the owner is set; then validates and works again', async () => {
    const legacy = await activeEndpoint(bob, s3Endpoint('customer-b-inbox', 'legacy/', 'BOTH'));
    await withoutOwner('customer-b', legacy);
    await s3.send(new PutObjectCommand({ Bucket: 'customer-b-inbox', Key: 'legacy/old.csv', Body: 'bob,old\n' }));
    const request = { source: { endpointId: legacy, path: 'old.csv' }, target: { endpointId: bobInboxId, path: 'old.csv' } };

    const refused = await bob.post('/transfers', request);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      code: 'BUCKET_OWNER_UNKNOWN',
      message: expect.stringContaining('s3.bucketOwner'),
    });
    const revalidated = await bob.post(`/endpoints/${legacy}/validate`);
    expect(revalidated.body.validation).toMatchObject({ ok: false, reason: 'BUCKET_OWNER_UNKNOWN' });

    const patched = await bob.patch(`/endpoints/${legacy}`, { s3: { bucketOwner: B_ACCOUNT } });
    expect(patched.body).toMatchObject({ status: 'PENDING', s3: { bucketOwner: B_ACCOUNT } });
    expect((await bob.post(`/endpoints/${legacy}/validate`)).body.endpoint.status).toBe('ACTIVE');
    const created = await bob.post('/transfers', request);
    expect(created.status).toBe(201);
    expect(await awaitJob(bob, created.body.jobs[0].jobId, 60_000)).toMatchObject({ status: 'SUCCEEDED' });
  }, 90_000);
});
