import { type DynamoDBClient, GetItemCommand, PutItemCommand, paginateQuery } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { accountOf } from '../../domain/aws-account';
import type { PrincipalDirectory } from '../../domain/ports';

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

  /** The accounts of the principals registered to the customer (index byCustomer). */
  async accountsOf(customerId: string): Promise<string[]> {
    const accounts = new Set<string>();
    const pages = paginateQuery(
      { client: this.db },
      {
        TableName: this.table,
        IndexName: 'byCustomer',
        KeyConditionExpression: 'customerId = :customerId',
        ExpressionAttributeValues: marshall({ ':customerId': customerId }),
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const account = accountOf(String(unmarshall(item).principalArn));
        if (account) accounts.add(account);
      }
    }
    return [...accounts];
  }

  /** Operators' registration of a customer's principal (and the local runtime's demo customers). */
  async register(principalArn: string, customerId: string): Promise<void> {
    await this.db.send(new PutItemCommand({ TableName: this.table, Item: marshall({ principalArn, customerId }) }));
  }
}
