import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildStores, type Stores } from '../../core/runtime/wiring';
import { ApiClient } from '../../local/api-client';
import { type LocalStack, REGIONS, startLocalStack } from '../../local/stack';

export interface TestEngine {
  stack: LocalStack;
  /** customer-a's client against each region's API */
  alice: { west: ApiClient; east: ApiClient };
  /** customer-b's client */
  bob: { west: ApiClient; east: ApiClient };
  /** The engine's own stores (as us-gov-west-1 builds them), for assertions on internals. */
  stores: Stores;
  close(): Promise<void>;
}

/** The whole local engine (emulators + both regions' APIs) in a private state directory. */
export async function startTestEngine(functionEnvironment: Record<string, string> = {}): Promise<TestEngine> {
  const stateDir = await mkdtemp(join(tmpdir(), 'eft-engine-'));
  const stack = await startLocalStack({ stateDir, functionEnvironment });
  const clientsOf = (customerId: string) => {
    const customer = stack.info.customers.find((c) => c.customerId === customerId);
    if (!customer) throw new Error(`no demo customer ${customerId}`);
    return {
      west: new ApiClient(stack.info.apis[REGIONS.west] ?? '', REGIONS.west, customer),
      east: new ApiClient(stack.info.apis[REGIONS.east] ?? '', REGIONS.east, customer),
    };
  };
  return {
    stack,
    alice: clientsOf('customer-a'),
    bob: clientsOf('customer-b'),
    stores: buildStores(stack.info.regions[REGIONS.west]?.environment),
    close: async () => {
      await stack.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Creates an endpoint over the API and validates it; the test fails unless it becomes ACTIVE. */
export async function activeEndpoint(client: ApiClient, body: Record<string, unknown>): Promise<string> {
  const created = await client.post('/endpoints', body);
  expect(created.status).toBe(201);
  const validated = await client.post(`/endpoints/${created.body.id}/validate`);
  expect(validated.body.endpoint.status).toBe('ACTIVE');
  return created.body.id;
}
