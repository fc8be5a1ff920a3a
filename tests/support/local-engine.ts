import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildStores, type Stores } from '../../core/runtime/wiring';
import { ApiClient } from '../../local/api-client';
import { localQueueUrl } from '../../local/cfn-values';
import { type LocalStack, type LocalStackInfo, type LocalStackOptions, REGIONS, startLocalStack } from '../../local/stack';

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

/**
 * The whole local engine (emulators, both regions' events, Step Functions and API processes) in a
 * private state directory. Schedules tick every second (scheduleTickSeconds 1) unless `options` say otherwise.
 */
export async function startTestEngine(
  functionEnvironment: Record<string, string> = {},
  options: Pick<LocalStackOptions, 'scheduleTickSeconds' | 'visibilityScale' | 'amendConfig'> = {},
): Promise<TestEngine> {
  const stateDir = await mkdtemp(join(tmpdir(), 'eft-engine-'));
  const stack = await startLocalStack({ stateDir, functionEnvironment, scheduleTickSeconds: 1, ...options });
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

/**
 * The embedded partner's SFTP server as the body of an endpoint, logged in with its key and its host key
 * pinned; `via` reaches it through a relay or proxy instead.
 */
export async function partnerEndpoint(
  info: LocalStackInfo,
  endpoint: { name: string; direction: string; basePath: string; maxConcurrency?: number },
  via: { host: string; port: number } = info.partnerSftp,
): Promise<Record<string, unknown>> {
  const { basePath, ...fields } = endpoint;
  return {
    type: 'SFTP',
    ...fields,
    sftp: {
      host: via.host,
      port: via.port,
      username: info.partnerSftp.username,
      basePath,
      hostKeyFingerprint: info.partnerSftp.hostKeyFingerprint,
    },
    credentials: { privateKey: await readFile(info.partnerSftp.privateKeyPath, 'utf8') },
  };
}

/** A real SQS client against a region's local SQS (its queues are the resources', by name). */
export function sqsClient(info: LocalStackInfo, region: string = REGIONS.west): SQSClient {
  const endpoint = info.sqs[region];
  if (!endpoint) throw new Error(`no local SQS in ${region}`);
  return new SQSClient({ endpoint, region, credentials: info.credentials });
}

/**
 * Receives `count` messages from a region's queue (e.g. a dead-letter queue), deleting them, with
 * their system and message attributes; long-polls until they have come, and fails after `timeoutMs`.
 */
export async function receiveMessages(
  info: LocalStackInfo,
  region: string,
  queueName: string,
  count = 1,
  timeoutMs = 30_000,
): Promise<Message[]> {
  const client = sqsClient(info, region);
  const QueueUrl = localQueueUrl(region, queueName);
  const received: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`${received.length} of ${count} messages came to ${queueName} (${region}) in ${timeoutMs} ms`);
      const { Messages = [] } = await client.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: Math.min(10, count - received.length),
          WaitTimeSeconds: Math.max(1, Math.min(20, Math.floor(left / 1000))),
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) continue;
      received.push(...Messages);
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    }
    return received;
  } finally {
    client.destroy();
  }
}
