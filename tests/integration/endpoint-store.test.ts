import { DynamoAuditLog } from '../../core/adapters/dynamodb/audit-log';
import { DynamoEndpointStore } from '../../core/adapters/dynamodb/endpoint-store';
import { ManualClock } from '../../core/domain/clock';
import { ConflictError, NotFoundError } from '../../core/domain/errors';
import type { NewEndpoint } from '../../core/domain/ports';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';

let dynamo: TestDynamo;
let audit: DynamoAuditLog;
let endpoints: DynamoEndpointStore;
const clock = new ManualClock();

beforeAll(async () => {
  dynamo = await startTestDynamo();
  audit = new DynamoAuditLog(dynamo.db, dynamo.tables.audit, clock);
  endpoints = new DynamoEndpointStore(dynamo.db, dynamo.tables.endpoints, audit, clock);
});
afterAll(() => dynamo.close());

const sftpEndpoint = (customerId: string): NewEndpoint => ({
  customerId,
  name: 'partner outbound',
  type: 'SFTP',
  direction: 'OUTBOUND',
  status: 'PENDING',
  maxConcurrency: 4,
  secretRef: 'local:secret/1',
  sftp: { host: 'sftp.partner.example', port: 22, username: 'eft', basePath: '/outbound', authType: 'PRIVATE_KEY' },
});

describe('endpoint store', () => {
  it('creates, reads and lists a customer’s endpoints', async () => {
    const created = await endpoints.create(sftpEndpoint('cust-list'), 'customer:alice');
    expect(created).toMatchObject({ version: 1, status: 'PENDING', endpointId: expect.stringMatching(/^ep_/) });
    expect(await endpoints.get('cust-list', created.endpointId)).toEqual(created);
    clock.advance(1);
    const second = await endpoints.create(sftpEndpoint('cust-list'), 'customer:alice');
    const page = await endpoints.list('cust-list', { limit: 10 });
    expect(page.items.map((e) => e.endpointId)).toEqual([created.endpointId, second.endpointId]);
  });

  it('never returns another customer’s endpoint', async () => {
    const mine = await endpoints.create(sftpEndpoint('cust-a'), 'customer:alice');
    expect(await endpoints.get('cust-b', mine.endpointId)).toBeUndefined();
    expect((await endpoints.list('cust-b', { limit: 10 })).items).toEqual([]);
    await expect(
      endpoints.update('cust-b', mine.endpointId, 1, { status: 'DISABLED' }, 'customer:bob', 'endpoint.disabled'),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(await endpoints.get('cust-a', mine.endpointId)).toEqual(mine);
  });

  it('reads a job’s two endpoints in one request, and never another customer’s', async () => {
    const source = await endpoints.create(sftpEndpoint('cust-pair'), 'customer:alice');
    clock.advance(1);
    const target = await endpoints.create(sftpEndpoint('cust-pair'), 'customer:alice');
    const theirs = await endpoints.create(sftpEndpoint('cust-other'), 'customer:mallory');

    expect(await endpoints.getPair('cust-pair', source.endpointId, target.endpointId)).toEqual([source, target]);
    expect(await endpoints.getPair('cust-pair', target.endpointId, source.endpointId)).toEqual([target, source]);
    // The same endpoint as source and target (a copy within one bucket) is one key, read once.
    expect(await endpoints.getPair('cust-pair', source.endpointId, source.endpointId)).toEqual([source, source]);
    expect(await endpoints.getPair('cust-pair', source.endpointId, 'ep_missing')).toEqual([source, undefined]);
    // Another customer's id, even a real one, is not found under this customer.
    expect(await endpoints.getPair('cust-pair', theirs.endpointId, target.endpointId)).toEqual([undefined, target]);
  });

  it('applies an update only at the expected version', async () => {
    const endpoint = await endpoints.create(sftpEndpoint('cust-v'), 'customer:alice');
    const updated = await endpoints.update(
      'cust-v',
      endpoint.endpointId,
      1,
      { status: 'ACTIVE', maxConcurrency: 2 },
      'customer:alice',
      'endpoint.updated',
    );
    expect(updated).toMatchObject({ version: 2, status: 'ACTIVE', maxConcurrency: 2 });
    await expect(
      endpoints.update('cust-v', endpoint.endpointId, 1, { status: 'DISABLED' }, 'customer:alice', 'endpoint.disabled'),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await endpoints.get('cust-v', endpoint.endpointId))?.status).toBe('ACTIVE');
  });

  it('appends every change to the audit trail with its actor', async () => {
    const endpoint = await endpoints.create(sftpEndpoint('cust-audit'), 'customer:alice');
    clock.advance(1);
    await endpoints.update('cust-audit', endpoint.endpointId, 1, { status: 'DISABLED' }, 'customer:carol', 'endpoint.disabled');
    const trail = await audit.list(`endpoint#${endpoint.endpointId}`, { limit: 10 });
    expect(trail.items.map((e) => [e.action, e.actor, e.customerId])).toEqual([
      ['endpoint.created', 'customer:alice', 'cust-audit'],
      ['endpoint.disabled', 'customer:carol', 'cust-audit'],
    ]);
  });
});
