import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type TableNames, type TriggerTableNames, tableNamesFromEnv } from '../../core/adapters/config';
import { startDynamo } from '../../local/dynamodb';
import { loadServiceConfig } from '../../local/service-config';
import { createTables, LOCAL_CREDENTIALS, tableDefinitions } from '../../local/tables';

export interface TestDynamo {
  endpoint: string;
  db: DynamoDBClient;
  tables: TableNames & TriggerTableNames;
  /** Requests served so far, by operation and table (LocalDynamo.requestCounts). */
  requestCounts(): Record<string, number>;
  close(): Promise<void>;
}

/** A private dynalite with the deployed tables (from resources/ via the resolved service config). */
export async function startTestDynamo(): Promise<TestDynamo> {
  const config = await loadServiceConfig('west');
  const dynamo = await startDynamo();
  await createTables(dynamo.endpoint, tableDefinitions(config.resources.Resources));
  const db = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-gov-west-1', credentials: LOCAL_CREDENTIALS });
  return {
    endpoint: dynamo.endpoint,
    db,
    tables: tableNamesFromEnv(config.provider.environment as NodeJS.ProcessEnv),
    requestCounts: () => dynamo.requestCounts(),
    close: async () => {
      db.destroy();
      await dynamo.close();
    },
  };
}
