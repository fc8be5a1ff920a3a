/**
 * The local engine keeps its DynamoDB data (jobs, endpoints, leases) across restarts, as the cloud
 * does: dynalite's tables live in LevelDB under <stateDir>/data/dynamodb, next to the S3 and SFTP data.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { marshall } from '@aws-sdk/util-dynamodb';
import { LeaseHeldError } from '../../core/domain/errors';
import { buildStores } from '../../core/runtime/wiring';
import { ApiClient } from '../../local/api-client';
import { startDynamo } from '../../local/dynamodb';
import { awaitJob } from '../../local/jobs';
import { loadServiceConfig, PROJECT_ROOT } from '../../local/service-config';
import { type LocalStack, REGIONS, startLocalStack } from '../../local/stack';
import { createTable, createTables, LOCAL_CREDENTIALS, tableDefinitions } from '../../local/tables';
import { activeEndpoint } from '../support/local-engine';

jest.setTimeout(120_000);

const stateDirs: string[] = [];
async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'eft-restart-'));
  stateDirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(stateDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

function aliceOf(stack: LocalStack): ApiClient {
  const alice = stack.info.customers.find((c) => c.customerId === 'customer-a');
  if (!alice) throw new Error('no demo customer customer-a');
  return new ApiClient(stack.info.apis[REGIONS.west] ?? '', REGIONS.west, alice);
}

function dynamoOf(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: REGIONS.west, credentials: LOCAL_CREDENTIALS });
}

async function tables(): Promise<CreateTableCommandInput[]> {
  return tableDefinitions((await loadServiceConfig('west')).resources.Resources);
}

describe('the local engine across a restart', () => {
  it('keeps endpoints, a job with its whole history, and leases, and runs new jobs with them', async () => {
    const dir = await stateDir();
    const s3Endpoint = (bucket: string, prefix: string, direction: string) => ({
      type: 'S3',
      name: `${bucket} ${direction}`,
      direction,
      s3: { bucket, prefix, region: REGIONS.west },
    });
    const ids = { source: '', target: '', job: '', partition: '' };
    const transfer = (name: string) => ({
      source: { endpointId: ids.source, path: name },
      target: { endpointId: ids.target, path: name },
    });
    /** What the API shows of the endpoints and the job, and the two leases' items as the leases table holds them. */
    const observe = async (stack: LocalStack) => {
      const alice = aliceOf(stack);
      const db = dynamoOf(stack.info.dynamodb.endpoint);
      const lease = async (partitionId: string) =>
        (await db.send(new GetItemCommand({ TableName: stack.info.tables.leases, Key: marshall({ partitionId }) }))).Item;
      try {
        return {
          job: (await alice.get(`/jobs/${ids.job}`)).body,
          source: (await alice.get(`/endpoints/${ids.source}`)).body,
          target: (await alice.get(`/endpoints/${ids.target}`)).body,
          jobLease: await lease(ids.partition),
          heldLease: await lease('restart-check'),
        };
      } finally {
        db.destroy();
      }
    };

    const first = await startLocalStack({ stateDir: dir, scheduleTickSeconds: 1 });
    let before: Awaited<ReturnType<typeof observe>>;
    try {
      const alice = aliceOf(first);
      ids.source = await activeEndpoint(alice, s3Endpoint('customer-a-outbox', 'out/', 'OUTBOUND'));
      ids.target = await activeEndpoint(alice, s3Endpoint('customer-a-inbox', 'in/', 'INBOUND'));
      const s3 = new S3Client({
        endpoint: first.info.s3.endpoint,
        region: REGIONS.west,
        forcePathStyle: true,
        credentials: first.info.credentials,
      });
      await s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: 'out/before.txt', Body: 'before' }));
      await s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: 'out/after.txt', Body: 'after' }));
      s3.destroy();
      const created = await alice.post('/transfers', transfer('before.txt'));
      expect(created.status).toBe(201);
      ids.job = created.body.jobs[0].jobId;
      expect(await awaitJob(alice, ids.job)).toMatchObject({ status: 'SUCCEEDED' });
      // The job's partition lease (released, epoch kept) and a live one written through the lease store.
      const stores = buildStores(first.info.regions[REGIONS.west]?.environment);
      ids.partition = (await stores.jobs.get({ customerId: 'customer-a', jobId: ids.job }))?.partitionId ?? '';
      await stores.leases.acquire('restart-check', { executionId: 'before-restart', region: REGIONS.west }, 3_600_000);
      before = await observe(first);
      expect(before.jobLease?.epoch).toEqual({ N: '1' });
      expect(before.heldLease).toBeDefined();
    } finally {
      await first.close();
    }

    const second = await startLocalStack({ stateDir: dir, scheduleTickSeconds: 1 });
    try {
      const after = await observe(second);
      expect(after).toEqual(before);
      expect(after.job.transitions.map((t: { status: string }) => t.status)).toEqual(
        before.job.transitions.map((t: { status: string }) => t.status),
      );
      expect(after.job.transitions.length).toBeGreaterThan(1);

      // The lease held before the restart still fences the other region after it.
      const stores = buildStores(second.info.regions[REGIONS.west]?.environment);
      await expect(
        stores.leases.acquire('restart-check', { executionId: 'after-restart', region: REGIONS.east }, 60_000),
      ).rejects.toThrow(LeaseHeldError);
      // The kept endpoints still carry jobs, and the partition's epoch goes on from where it was (never back to 1).
      const alice = aliceOf(second);
      const again = await alice.post('/transfers', transfer('after.txt'));
      expect(again.status).toBe(201);
      expect(await awaitJob(alice, again.body.jobs[0].jobId)).toMatchObject({ status: 'SUCCEEDED' });
      expect((await observe(second)).jobLease?.epoch).toEqual({ N: '2' });
    } finally {
      await second.close();
    }
  });

  it('refuses a second engine on the same state directory while one runs, and leaves its data intact', async () => {
    const dir = await stateDir();
    const directory = join(dir, 'data', 'dynamodb');
    const running = await startDynamo({ directory });
    const item = { TableName: 'restart-lock', Item: marshall({ id: 'kept', value: 1 }) };
    const db = dynamoOf(running.endpoint);
    try {
      await createTable(db, {
        TableName: 'restart-lock',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      });
      await db.send(new PutItemCommand(item));

      await expect(startLocalStack({ stateDir: dir })).rejects.toThrow(/in use by another eft engine/);
      await expect(startDynamo({ directory })).rejects.toThrow(/in use by another eft engine/);
      // The running one still serves its data.
      expect((await db.send(new GetItemCommand({ TableName: 'restart-lock', Key: marshall({ id: 'kept' }) }))).Item).toEqual(
        item.Item,
      );
    } finally {
      db.destroy();
      await running.close();
    }

    // Closed, it lets the next one in, in the same process too, with the data as it was.
    const next = await startDynamo({ directory });
    const nextDb = dynamoOf(next.endpoint);
    try {
      const { Items } = await nextDb.send(new ScanCommand({ TableName: 'restart-lock' }));
      expect(Items).toEqual([item.Item]);
    } finally {
      nextDb.destroy();
      await next.close();
    }
  });

  it('keeps what a killed engine wrote, and a killed engine leaves its state directory free', async () => {
    const directory = join(await stateDir(), 'dynamodb');
    // An engine's DynamoDB in a process of its own, SIGKILLed once it has written (no close, no flush).
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'support', 'dynamo-process.ts'), directory], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('written') && resolve());
      child.once('exit', (code) => reject(new Error(`the engine process exited (${code}) before writing`)));
    });
    child.kill('SIGKILL');
    await exited;

    const next = await startDynamo({ directory });
    const db = dynamoOf(next.endpoint);
    try {
      const { Item } = await db.send(new GetItemCommand({ TableName: 'killed', Key: marshall({ id: 'written' }) }));
      expect(Item).toEqual(marshall({ id: 'written' }));
    } finally {
      db.destroy();
      await next.close();
    }
  });

  it('gives a kept table an index added to resources/ since, with the items it already held indexed', async () => {
    const directory = join(await stateDir(), 'dynamodb');
    const definitions = await tables();
    const jobs = definitions.find((t) => t.GlobalSecondaryIndexes?.some((i) => i.IndexName === 'byRequest'));
    if (!jobs) throw new Error('resources/ declare no table with the byRequest index');
    const index = jobs.GlobalSecondaryIndexes?.find((i) => i.IndexName === 'byRequest');
    const older: CreateTableCommandInput = {
      ...jobs,
      AttributeDefinitions: jobs.AttributeDefinitions?.filter((a) => a.AttributeName !== 'requestKey'),
      GlobalSecondaryIndexes: jobs.GlobalSecondaryIndexes?.filter((i) => i !== index),
    };
    if (older.GlobalSecondaryIndexes?.length === 0) delete older.GlobalSecondaryIndexes;
    const item = marshall({ customerId: 'customer-a', jobId: 'job-1', requestKey: 'request-1', status: 'QUEUED' });

    // An engine of before the index: its table without it, holding an item.
    const old = await startDynamo({ directory });
    const oldDb = dynamoOf(old.endpoint);
    try {
      await createTables(old.endpoint, [older]);
      await oldDb.send(new PutItemCommand({ TableName: jobs.TableName, Item: item }));
      // dynalite takes UpdateTable's index creation (given a throughput, which it wants even on demand)
      // but adds no index: why createTables rebuilds a table instead.
      await oldDb.send(
        new UpdateTableCommand({
          TableName: jobs.TableName,
          AttributeDefinitions: jobs.AttributeDefinitions,
          GlobalSecondaryIndexUpdates: [
            {
              Create: {
                IndexName: 'byRequest',
                KeySchema: index?.KeySchema,
                Projection: index?.Projection,
                ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
              },
            },
          ],
        }),
      );
      const described = await oldDb.send(new DescribeTableCommand({ TableName: jobs.TableName }));
      expect(described.Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName) ?? []).not.toContain('byRequest');
    } finally {
      oldDb.destroy();
      await old.close();
    }

    const current = await startDynamo({ directory });
    const db = dynamoOf(current.endpoint);
    try {
      expect(await createTables(current.endpoint, definitions)).toEqual([jobs.TableName]);
      const found = await db.send(
        new QueryCommand({
          TableName: jobs.TableName,
          IndexName: 'byRequest',
          KeyConditionExpression: 'requestKey = :key',
          ExpressionAttributeValues: marshall({ ':key': 'request-1' }),
        }),
      );
      expect(found.Items).toEqual([item]);
      // Already as declared: nothing is rebuilt on the next start.
      expect(await createTables(current.endpoint, definitions)).toEqual([]);
    } finally {
      db.destroy();
      await current.close();
    }
  });

  it('refuses a kept table whose key changed since, saying what to delete', async () => {
    const dynamo = await startDynamo();
    try {
      const [table] = await tables();
      if (!table) throw new Error('resources/ declare no tables');
      await createTables(dynamo.endpoint, [
        {
          TableName: table.TableName,
          KeySchema: [{ AttributeName: 'other', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'other', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        },
      ]);
      await expect(createTables(dynamo.endpoint, [table])).rejects.toThrow(/delete .*\.eft\/data\/dynamodb/);
    } finally {
      await dynamo.close();
    }
  });
});
