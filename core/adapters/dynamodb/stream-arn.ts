import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** The ARN of a table's current stream in the client's region (each global table replica has its own). */
export async function latestStreamArn(db: DynamoDBClient, table: string): Promise<string> {
  const { Table } = await db.send(new DescribeTableCommand({ TableName: table }));
  if (!Table?.LatestStreamArn) throw new Error(`table ${table} has no stream in this region`);
  return Table.LatestStreamArn;
}
