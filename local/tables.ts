import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  ResourceInUseException,
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

/** Creates each table unless it exists already. */
export async function createTables(endpoint: string, tables: CreateTableCommandInput[]): Promise<void> {
  const db = new DynamoDBClient({ endpoint, region: 'us-gov-west-1', credentials: LOCAL_CREDENTIALS });
  try {
    for (const table of tables) {
      try {
        await db.send(new CreateTableCommand(table));
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error;
      }
    }
  } finally {
    db.destroy();
  }
}

/** dynalite accepts any credentials; s3rver checks signatures against this fixed pair. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
