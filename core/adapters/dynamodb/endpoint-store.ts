import {
  BatchGetItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Clock } from '../../domain/clock';
import type { Endpoint } from '../../domain/endpoint';
import { ConflictError, NotFoundError, TransientError } from '../../domain/errors';
import { timeOrderedId } from '../../domain/ids';
import type { AuditLog, EndpointChanges, EndpointStore, NewEndpoint, Page, PageRequest } from '../../domain/ports';
import { securityPolicyOf } from '../../domain/ssh-security-policies';
import { isConditionFailed, sendUntilProcessed } from './client';
import { CursorCodec } from './pagination';
import { versionedUpdate } from './versioned-update';

/** How many times keys DynamoDB left unprocessed are asked for before giving up. */
const UNPROCESSED_ROUNDS = 5;

/**
 * What the audit trail records of an endpoint's security settings when they
 * are set or changed: the SSH security policy (a switch to LEGACY is a
 * decision someone answers for). The policy, not the algorithms: those are
 * the policy's, in core/domain/ssh-security-policies.ts.
 */
function securitySettings(endpoint: Endpoint): { securityPolicy?: string } {
  return 'sftp' in endpoint ? { securityPolicy: securityPolicyOf(endpoint.sftp) } : {};
}

/**
 * Endpoints keyed by (customerId, endpointId): every read and write names the
 * customer, so one customer's request cannot reach another's endpoint.
 */
export class DynamoEndpointStore implements EndpointStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly cursors: CursorCodec = CursorCodec.forThisProcessOnly(),
  ) {}

  async create(input: NewEndpoint, actor: string): Promise<Endpoint> {
    const nowMs = this.clock.now();
    const now = new Date(nowMs).toISOString();
    const endpoint: Endpoint = { ...input, endpointId: timeOrderedId('ep', nowMs), createdAt: now, updatedAt: now, version: 1 };
    await this.db.send(
      new PutItemCommand({
        TableName: this.table,
        Item: marshall(endpoint, { removeUndefinedValues: true }),
        ConditionExpression: 'attribute_not_exists(endpointId)',
      }),
    );
    await this.audit.append({
      subject: `endpoint#${endpoint.endpointId}`,
      customerId: endpoint.customerId,
      actor,
      action: 'endpoint.created',
      at: now,
      details: { status: endpoint.status, ...securitySettings(endpoint) },
    });
    return endpoint;
  }

  async get(customerId: string, endpointId: string): Promise<Endpoint | undefined> {
    const result = await this.db.send(
      new GetItemCommand({ TableName: this.table, Key: marshall({ customerId, endpointId }), ConsistentRead: true }),
    );
    return result.Item ? (unmarshall(result.Item) as Endpoint) : undefined;
  }

  async getPair(customerId: string, firstId: string, secondId: string): Promise<[Endpoint | undefined, Endpoint | undefined]> {
    const found = new Map<string, Endpoint>();
    const keys = [...new Set([firstId, secondId])].map((endpointId) => marshall({ customerId, endpointId }));
    await sendUntilProcessed(
      keys,
      async (pending) => {
        const result = await this.db.send(
          new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
        );
        for (const item of result.Responses?.[this.table] ?? []) {
          const endpoint = unmarshall(item) as Endpoint;
          found.set(endpoint.endpointId, endpoint);
        }
        return result.UnprocessedKeys?.[this.table]?.Keys;
      },
      UNPROCESSED_ROUNDS,
      (left) => new TransientError(`DynamoDB left ${left} endpoint reads unprocessed`),
    );
    return [found.get(firstId), found.get(secondId)];
  }

  async list(customerId: string, page: PageRequest): Promise<Page<Endpoint>> {
    const scope = { customerId, listing: 'endpoints' };
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'customerId = :customerId',
        ExpressionAttributeValues: marshall({ ':customerId': customerId }),
        Limit: page.limit,
        ExclusiveStartKey: await this.cursors.decode(scope, page.cursor),
      }),
    );
    const nextCursor = await this.cursors.encode(scope, result.LastEvaluatedKey);
    return { items: (result.Items ?? []).map((i) => unmarshall(i) as Endpoint), ...(nextCursor ? { nextCursor } : {}) };
  }

  async update(
    customerId: string,
    endpointId: string,
    expectedVersion: number,
    changes: EndpointChanges,
    actor: string,
    action: string,
  ): Promise<Endpoint> {
    const now = new Date(this.clock.now()).toISOString();
    try {
      const result = await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall({ customerId, endpointId }),
          ...versionedUpdate(Object.entries(changes), { idAttribute: 'endpointId', expectedVersion, now }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      const endpoint = unmarshall(result.Attributes ?? {}) as Endpoint;
      await this.audit.append({
        subject: `endpoint#${endpointId}`,
        customerId,
        actor,
        action,
        at: now,
        details: {
          fields: Object.keys(changes).sort(),
          status: endpoint.status,
          ...('sftp' in changes ? securitySettings(endpoint) : {}),
        },
      });
      return endpoint;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const current = await this.get(customerId, endpointId);
      if (!current) throw new NotFoundError(`endpoint ${endpointId} not found`);
      throw new ConflictError(
        `endpoint ${endpointId} was changed concurrently (now version ${current.version}); retry`,
        'VERSION_CONFLICT',
      );
    }
  }
}
