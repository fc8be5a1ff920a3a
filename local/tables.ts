import {
  type AttributeValue,
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type KeySchemaElement,
  ResourceNotFoundException,
  ScanCommand,
  type TableDescription,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';

/** The parts of an AWS::DynamoDB::(Global)Table that shape the table itself. */
interface CfnTableProperties {
  TableName: string;
  KeySchema: CreateTableCommandInput['KeySchema'];
  AttributeDefinitions: CreateTableCommandInput['AttributeDefinitions'];
  GlobalSecondaryIndexes?: Array<{ IndexName: string; KeySchema: unknown; Projection: unknown }>;
}

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

/**
 * Reads the table definitions out of the CloudFormation resources that
 * resources/ gives the deployment, so the local tables are exactly the deployed
 * ones: same names, keys and indexes (encryption, PITR, replicas and streams are
 * AWS-side settings a local emulator has no use for).
 */
export function tableDefinitions(resources: Record<string, CfnResource>): CreateTableCommandInput[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::DynamoDB::GlobalTable' || r.Type === 'AWS::DynamoDB::Table')
    .map((r) => {
      const p = r.Properties as unknown as CfnTableProperties;
      if (typeof p.TableName !== 'string') throw new Error('table names must be resolved before creating tables locally');
      return {
        TableName: p.TableName,
        KeySchema: p.KeySchema,
        AttributeDefinitions: p.AttributeDefinitions,
        BillingMode: 'PAY_PER_REQUEST',
        ...(p.GlobalSecondaryIndexes?.length
          ? {
              GlobalSecondaryIndexes: p.GlobalSecondaryIndexes.map((index) => ({
                IndexName: index.IndexName,
                KeySchema: index.KeySchema,
                Projection: index.Projection,
              })) as CreateTableCommandInput['GlobalSecondaryIndexes'],
            }
          : {}),
      };
    });
}

/**
 * Creates each table unless it exists already (the local tables are kept across restarts). A kept
 * table whose indexes differ from resources/ (an index added, changed or dropped since it was created)
 * is rebuilt with its items, as DynamoDB would backfill a new index: dynalite accepts UpdateTable's
 * index creation (given a throughput, even on demand) but adds no index. A table whose own key changed cannot keep its items: that
 * is an error saying what to delete. Returns the names of the tables rebuilt.
 */
export async function createTables(endpoint: string, tables: CreateTableCommandInput[]): Promise<string[]> {
  const db = new DynamoDBClient({ endpoint, region: 'us-gov-west-1', credentials: LOCAL_CREDENTIALS });
  const rebuilt: string[] = [];
  try {
    for (const table of tables) {
      const existing = await describe(db, table.TableName as string);
      if (!existing) {
        await createTable(db, table);
        continue;
      }
      const [want, have] = [keySignature(table), keySignature(existing)];
      if (want !== have) {
        throw new Error(
          `the local table ${table.TableName} has the key ${have}, resources/ give it ${want}: its items cannot be ` +
            'kept. Stop the engine, delete the data/dynamodb folder of its state directory (.eft/data/dynamodb) and start again',
        );
      }
      if (indexSignature(table) !== indexSignature(existing)) {
        await rebuild(db, table);
        rebuilt.push(table.TableName as string);
      }
    }
  } finally {
    db.destroy();
  }
  return rebuilt;
}

type TableShape = Pick<TableDescription, 'KeySchema' | 'AttributeDefinitions' | 'GlobalSecondaryIndexes'>;

async function describe(db: DynamoDBClient, name: string): Promise<TableDescription | undefined> {
  try {
    return (await db.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/** The key attributes with their roles and types, e.g. "customerId HASH S, jobId RANGE S". */
function keysOf(keys: KeySchemaElement[] | undefined, shape: TableShape): string {
  const types = new Map(shape.AttributeDefinitions?.map((a) => [a.AttributeName, a.AttributeType]));
  return (keys ?? []).map((k) => `${k.AttributeName} ${k.KeyType} ${types.get(k.AttributeName)}`).join(', ');
}

function keySignature(shape: TableShape): string {
  return keysOf(shape.KeySchema, shape);
}

/** Each GSI's name, keys and projection, in name order. */
function indexSignature(shape: TableShape): string {
  return (shape.GlobalSecondaryIndexes ?? [])
    .map((index) => {
      const projection = index.Projection ?? {};
      const nonKey = [...(projection.NonKeyAttributes ?? [])].sort().join(' ');
      return `${index.IndexName} (${keysOf(index.KeySchema, shape)}) ${projection.ProjectionType ?? 'ALL'} ${nonKey}`;
    })
    .sort()
    .join('; ');
}

/**
 * Recreates the table as defined and puts its items back, which indexes them anew. The items are read
 * in full before the table is deleted (local tables are small).
 */
async function rebuild(db: DynamoDBClient, table: CreateTableCommandInput): Promise<void> {
  const TableName = table.TableName as string;
  const items: Array<Record<string, AttributeValue>> = [];
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await db.send(new ScanCommand({ TableName, ConsistentRead: true, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  await db.send(new DeleteTableCommand({ TableName }));
  await until(async () => (await describe(db, TableName)) === undefined, `${TableName} deleted`);
  await createTable(db, table);
  for (let i = 0; i < items.length; i += 25) {
    let pending: WriteRequest[] = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    while (pending.length > 0) {
      const output: BatchWriteItemCommandOutput = await db.send(
        new BatchWriteItemCommand({ RequestItems: { [TableName]: pending } }),
      );
      pending = output.UnprocessedItems?.[TableName] ?? [];
    }
  }
}

/** Creates a table and returns once it is ACTIVE: dynalite answers CreateTable while the table is still CREATING (a PutItem right after it can find no table). */
export async function createTable(db: DynamoDBClient, table: CreateTableCommandInput): Promise<void> {
  await db.send(new CreateTableCommand(table));
  await until(async () => (await describe(db, table.TableName as string))?.TableStatus === 'ACTIVE', `${table.TableName} active`);
}

/**
 * Polls dynalite until a table reaches the state asked for. Its create and delete delays are 0 ms, but
 * the change lands on a later tick, later still on a busy machine: hence a generous bound.
 */
async function until(reached: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await reached())) {
    if (Date.now() > deadline) throw new Error(`the local DynamoDB did not report ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** dynalite accepts any credentials; s3rver checks signatures against this fixed pair. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
