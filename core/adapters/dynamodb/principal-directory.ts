import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { PrincipalDirectory } from '../../http/identity';

/** principal ARN → customer id, as operators register customers (principals table). */
export class DynamoPrincipalDirectory implements PrincipalDirectory {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
  ) {}

  async customerOf(principalArn: string): Promise<string | undefined> {
    const result = await this.db.send(new GetItemCommand({ TableName: this.table, Key: marshall({ principalArn }) }));
    return result.Item ? String(unmarshall(result.Item).customerId) : undefined;
  }

  /** Operators' registration of a customer's principal (and the local runtime's demo customers). */
  async register(principalArn: string, customerId: string): Promise<void> {
    await this.db.send(new PutItemCommand({ TableName: this.table, Item: marshall({ principalArn, customerId }) }));
  }
}
