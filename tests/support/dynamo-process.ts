/**
 * A local DynamoDB in a process of its own (tests that kill it): `tsx tests/support/dynamo-process.ts <directory>`
 * starts one keeping its tables in <directory>, writes the item {id: "written"} to the table "killed",
 * says "written" on stdout, and runs until killed.
 */
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { startDynamo } from '../../local/dynamodb';
import { LOCAL_CREDENTIALS } from '../../local/tables';

async function main(directory: string): Promise<void> {
  const dynamo = await startDynamo({ directory });
  const db = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-gov-west-1', credentials: LOCAL_CREDENTIALS });
  await db.send(
    new CreateTableCommand({
      TableName: 'killed',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await db.send(new PutItemCommand({ TableName: 'killed', Item: { id: { S: 'written' } } }));
  process.stdout.write('written\n');
  setInterval(() => undefined, 60_000);
}

const [directory] = process.argv.slice(2);
if (!directory) throw new Error('usage: dynamo-process.ts <directory>');
void main(directory);
