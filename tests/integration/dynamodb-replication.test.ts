import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { DynamoLeaseStore } from '../../core/adapters/dynamodb/lease-store';
import { type LocalDynamo, startDynamo } from '../../local/dynamodb';
import { type DynamoReplication, startDynamoReplication } from '../../local/dynamodb-replication';
import { createTables, LOCAL_CREDENTIALS } from '../../local/tables';

// Two replicas (west, east), each behind its replication proxy, as the local stack runs them with dynamoReplication.
const TABLE = 'replication-test-items';
const LEASES = 'replication-test-leases';
const tables = [
  {
    TableName: TABLE,
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' as const },
      { AttributeName: 'sk', KeyType: 'RANGE' as const },
    ],
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' as const },
      { AttributeName: 'sk', AttributeType: 'S' as const },
    ],
    BillingMode: 'PAY_PER_REQUEST' as const,
  },
  {
    TableName: LEASES,
    KeySchema: [{ AttributeName: 'partitionId', KeyType: 'HASH' as const }],
    AttributeDefinitions: [{ AttributeName: 'partitionId', AttributeType: 'S' as const }],
    BillingMode: 'PAY_PER_REQUEST' as const,
  },
];
// Long enough that both regions' writes land before either is replicated (checked, not assumed).
const LAG_MS = 3000;

let replicas: LocalDynamo[];
let replication: DynamoReplication;
let west: DynamoDBClient;
let east: DynamoDBClient;
let run = 0;

beforeAll(async () => {
  replicas = await Promise.all([startDynamo(), startDynamo()]);
  for (const replica of replicas) await createTables(replica.endpoint, tables);
  replication = await startDynamoReplication({
    replicas: [
      { region: 'us-gov-west-1', endpoint: (replicas[0] as LocalDynamo).endpoint },
      { region: 'us-gov-east-1', endpoint: (replicas[1] as LocalDynamo).endpoint },
    ],
    tables,
    lagMs: LAG_MS,
  });
  const client = (region: string) =>
    new DynamoDBClient({ endpoint: replication.endpoints[region], region, credentials: LOCAL_CREDENTIALS });
  west = client('us-gov-west-1');
  east = client('us-gov-east-1');
});
afterAll(async () => {
  west.destroy();
  east.destroy();
  await replication.close();
  await Promise.all(replicas.map((replica) => replica.close()));
});
beforeEach(() => {
  run++;
});

const read = async (db: DynamoDBClient, key: Record<string, string>, table = TABLE) => {
  const { Item } = await db.send(new GetItemCommand({ TableName: table, Key: marshall(key), ConsistentRead: true }));
  return Item ? unmarshall(Item) : undefined;
};
const claim = (db: DynamoDBClient, key: Record<string, string>, owner: string) =>
  db.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: marshall({ ...key, owner }),
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );

test('two conditional puts of one key, one per region within the lag, both succeed; then both replicas hold the later one', async () => {
  const key = { pk: `lease-${run}`, sk: 'x' };
  await claim(west, key, 'west');
  await claim(east, key, 'east');
  // Both won: neither write had reached the other replica yet.
  expect(replication.stats().applied).toBe(0);
  expect(await read(west, key)).toMatchObject({ owner: 'west' });
  await replication.settled();
  expect(await read(west, key)).toMatchObject({ owner: 'east' });
  expect(await read(east, key)).toMatchObject({ owner: 'east' });
  // After the lag, the condition holds everywhere again: a third claim fails in both regions.
  await expect(claim(west, key, 'west again')).rejects.toThrow(/conditional/i);
  await expect(claim(east, key, 'east again')).rejects.toThrow(/conditional/i);
});

test('the later writer wins even when its region replicates first', async () => {
  const key = { pk: `order-${run}`, sk: 'x' };
  // East writes first, west later: west's replication to east must win, east's to west must be dropped.
  await east.send(new PutItemCommand({ TableName: TABLE, Item: marshall({ ...key, value: 'first' }) }));
  await west.send(new PutItemCommand({ TableName: TABLE, Item: marshall({ ...key, value: 'second' }) }));
  const dropped = replication.stats().dropped;
  await replication.settled();
  expect(replication.stats().dropped).toBe(dropped + 1);
  expect(await read(west, key)).toMatchObject({ value: 'second' });
  expect(await read(east, key)).toMatchObject({ value: 'second' });
});

test('updates, deletes and batch writes reach the other replica', async () => {
  const updated = { pk: `update-${run}`, sk: 'x' };
  const deleted = { pk: `delete-${run}`, sk: 'x' };
  const batched = [0, 1, 2].map((i) => ({ pk: `batch-${run}`, sk: String(i) }));
  await west.send(new PutItemCommand({ TableName: TABLE, Item: marshall({ ...deleted, value: 1 }) }));
  await west.send(
    new UpdateItemCommand({
      TableName: TABLE,
      Key: marshall(updated),
      UpdateExpression: 'ADD hits :one',
      ExpressionAttributeValues: marshall({ ':one': 1 }),
    }),
  );
  await west.send(
    new BatchWriteItemCommand({
      RequestItems: { [TABLE]: batched.map((key) => ({ PutRequest: { Item: marshall({ ...key, value: 'b' }) } })) },
    }),
  );
  await replication.settled();
  expect(await read(east, deleted)).toMatchObject({ value: 1 });
  await west.send(new DeleteItemCommand({ TableName: TABLE, Key: marshall(deleted) }));
  await replication.settled();
  expect(await read(east, updated)).toMatchObject({ hits: 1 });
  for (const key of batched) expect(await read(east, key)).toMatchObject({ value: 'b' });
  expect(await read(east, deleted)).toBeUndefined();
});

test("the engine's partition lease: both regions acquire it during the lag (split brain), one owner after", async () => {
  const clock = { now: () => Date.now() };
  const partitionId = `partition-${run}`;
  const inWest = await new DynamoLeaseStore(west, LEASES, clock).acquire(
    partitionId,
    { executionId: 'w', region: 'us-gov-west-1' },
    60_000,
  );
  const inEast = await new DynamoLeaseStore(east, LEASES, clock).acquire(
    partitionId,
    { executionId: 'e', region: 'us-gov-east-1' },
    60_000,
  );
  expect([inWest.ownerRegion, inEast.ownerRegion]).toEqual(['us-gov-west-1', 'us-gov-east-1']);
  await replication.settled();
  const westView = await read(west, { partitionId }, LEASES);
  const eastView = await read(east, { partitionId }, LEASES);
  expect(westView).toEqual(eastView);
  expect(westView?.ownerRegion).toBe('us-gov-east-1');
});
