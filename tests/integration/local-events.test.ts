// The local runtime's event-driven half, spoken to with the real AWS SDK clients: each region's
// SQS and EventBridge endpoints, the `sqs` and `schedule` events of functions (fixture functions
// of tests/support/event-fixtures.ts, whose handlers report what they got on a queue), and
// customers' S3 "Object Created" events reaching both regions' ingest buses.
import { createHash } from 'node:crypto';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { localQueueUrl } from '../../local/cfn-values';
import { customerS3Client } from '../../local/s3';
import { REGIONS } from '../../local/stack';
import { FIXTURE_BUS, FIXTURE_QUEUES, withEventFixtures } from '../support/event-fixtures';
import { receiveMessages, sqsClient, startTestEngine, type TestEngine } from '../support/local-engine';

const west = REGIONS.west;
const east = REGIONS.east;
let engine: TestEngine;
let sqs: SQSClient;
let s3: S3Client;

beforeAll(async () => {
  // Visibility timeouts of 30 s become 0.3 s: failed messages come back at once.
  engine = await startTestEngine({}, { amendConfig: withEventFixtures, scheduleTickSeconds: 1, visibilityScale: 0.01 });
  sqs = sqsClient(engine.stack.info, west);
  s3 = customerS3Client(engine.stack.info.s3.endpoint, west);
}, 120_000);
afterAll(async () => {
  sqs?.destroy();
  s3?.destroy();
  await engine?.close();
});

const urlOf = (queueName: string, region = west) => localQueueUrl(region, queueName);
const counts = async (queueName: string) => {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: urlOf(queueName), AttributeNames: ['All'] }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible),
  };
};
const md5 = (data: string | Buffer) => createHash('md5').update(data).digest('hex');

/** The records the fixture sqs function got (each as it received it), `count` of them. */
async function recorded(count: number, region = west) {
  const messages = await receiveMessages(engine.stack.info, region, FIXTURE_QUEUES.recordedMessages, count);
  return messages.map((m) => JSON.parse(m.Body ?? '') as { record: SQSRecord; batchSize: number });
}

describe('local SQS, as @aws-sdk/client-sqs speaks to it', () => {
  const scratch = urlOf(FIXTURE_QUEUES.scratch);
  beforeEach(() => sqs.send(new PurgeQueueCommand({ QueueUrl: scratch })));

  it('resolves a queue name to the URL a Ref gives, and sends and receives with message attributes', async () => {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: FIXTURE_QUEUES.scratch }));
    expect(QueueUrl).toBe(`https://sqs.${west}.amazonaws.com/000000000000/${FIXTURE_QUEUES.scratch}`);
    const body = 'héllo, wörld 🌍';
    const attributes = {
      reason: { DataType: 'String', StringValue: 'malformed' },
      attempts: { DataType: 'Number', StringValue: '3' },
      blob: { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2, 255]) },
    };
    // The client checks MD5OfMessageBody itself (and the ReceiveMessage MD5OfBody below).
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageAttributes: attributes }));
    expect(sent.MD5OfMessageBody).toBe(md5(body));
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);

    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 1,
      }),
    );
    expect(Messages).toHaveLength(1);
    const [message] = Messages;
    expect(message).toMatchObject({ MessageId: sent.MessageId, Body: body, MD5OfMessageAttributes: sent.MD5OfMessageAttributes });
    expect(message?.Attributes).toMatchObject({ ApproximateReceiveCount: '1', SentTimestamp: expect.stringMatching(/^\d{13}$/) });
    expect(message?.MessageAttributes?.reason).toEqual({ DataType: 'String', StringValue: 'malformed' });
    expect(message?.MessageAttributes?.attempts).toEqual({ DataType: 'Number', StringValue: '3' });
    expect(Buffer.from(message?.MessageAttributes?.blob?.BinaryValue ?? [])).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('hides a received message for the visibility timeout; only the latest receipt handle deletes it', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: scratch, MessageBody: 'one' }));
    const first = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: scratch, VisibilityTimeout: 600 }))).Messages?.[0];
    expect(first?.Body).toBe('one');
    expect(first?.Attributes).toBeUndefined(); // none asked for
    expect(await counts(FIXTURE_QUEUES.scratch)).toEqual({ visible: 0, inFlight: 1 });
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: scratch }))).Messages).toBeUndefined();

    await sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: scratch, ReceiptHandle: first?.ReceiptHandle, VisibilityTimeout: 0 }),
    );
    const second = (
      await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: scratch,
          VisibilityTimeout: 600,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      )
    ).Messages?.[0];
    expect(second).toMatchObject({ MessageId: first?.MessageId, Attributes: { ApproximateReceiveCount: '2' } });
    expect(second?.ReceiptHandle).not.toBe(first?.ReceiptHandle);

    await sqs.send(new DeleteMessageCommand({ QueueUrl: scratch, ReceiptHandle: first?.ReceiptHandle })); // stale: deletes nothing
    expect(await counts(FIXTURE_QUEUES.scratch)).toEqual({ visible: 0, inFlight: 1 });
    await sqs.send(new DeleteMessageCommand({ QueueUrl: scratch, ReceiptHandle: second?.ReceiptHandle }));
    expect(await counts(FIXTURE_QUEUES.scratch)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('sends and deletes in batches, reporting a bad entry by its id, and purges', async () => {
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: scratch,
        Entries: [
          { Id: 'a', MessageBody: 'alpha' },
          { Id: 'b', MessageBody: '' },
          { Id: 'c', MessageBody: 'gamma', MessageAttributes: { n: { DataType: 'Number', StringValue: 'not a number' } } },
          { Id: 'd', MessageBody: 'delta' },
        ],
      }),
    );
    expect(sent.Successful?.map((s) => [s.Id, s.MD5OfMessageBody])).toEqual([
      ['a', md5('alpha')],
      ['d', md5('delta')],
    ]);
    expect(sent.Failed?.map((f) => [f.Id, f.Code, f.SenderFault])).toEqual([
      ['b', 'MissingParameter', true],
      ['c', 'InvalidParameterValue', true],
    ]);
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: scratch, MaxNumberOfMessages: 10 }));
    expect(Messages.map((m) => m.Body)).toEqual(['alpha', 'delta']);
    const deleted = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: scratch,
        Entries: [
          { Id: 'x', ReceiptHandle: Messages[0]?.ReceiptHandle },
          { Id: 'y', ReceiptHandle: 'not-a-handle' },
        ],
      }),
    );
    expect(deleted.Successful?.map((s) => s.Id)).toEqual(['x']);
    expect(deleted.Failed?.map((f) => [f.Id, f.Code])).toEqual([['y', 'ReceiptHandleIsInvalid']]);
    await sqs.send(new SendMessageCommand({ QueueUrl: scratch, MessageBody: 'more' }));
    await sqs.send(new PurgeQueueCommand({ QueueUrl: scratch }));
    expect(await counts(FIXTURE_QUEUES.scratch)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('long-polls: a waiting receive gets a message sent while it waits', async () => {
    const waiting = sqs.send(new ReceiveMessageCommand({ QueueUrl: scratch, WaitTimeSeconds: 20 }));
    await sqs.send(new SendMessageCommand({ QueueUrl: scratch, MessageBody: 'worth the wait' }));
    expect((await waiting).Messages?.map((m) => m.Body)).toEqual(['worth the wait']);
  });

  it("answers SQS's errors as the client reports them", async () => {
    await expect(sqs.send(new SendMessageCommand({ QueueUrl: urlOf('no-such-queue'), MessageBody: 'x' }))).rejects.toMatchObject({
      name: 'QueueDoesNotExist',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(sqs.send(new ReceiveMessageCommand({ QueueUrl: scratch, MaxNumberOfMessages: 11 }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
  });
});

describe("functions' sqs events", () => {
  const messages = urlOf(FIXTURE_QUEUES.messages);

  it('invoke the function with a Lambda SQS event of the message sent, in its region', async () => {
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: messages,
        MessageBody: '{"hello":"west"}',
        MessageAttributes: { reason: { DataType: 'String', StringValue: 'greeting' } },
      }),
    );
    const [first] = await recorded(1);
    expect(first?.record).toEqual({
      messageId: sent.MessageId,
      receiptHandle: expect.any(String),
      body: '{"hello":"west"}',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d+$/),
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
      },
      messageAttributes: { reason: { stringValue: 'greeting', stringListValues: [], binaryListValues: [], dataType: 'String' } },
      md5OfBody: md5('{"hello":"west"}'),
      md5OfMessageAttributes: sent.MD5OfMessageAttributes,
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws-us-gov:sqs:${west}:000000000000:${FIXTURE_QUEUES.messages}`,
      awsRegion: west,
    });
    // Each region polls its own queues.
    const eastSqs = sqsClient(engine.stack.info, east);
    try {
      await eastSqs.send(
        new SendMessageCommand({ QueueUrl: urlOf(FIXTURE_QUEUES.messages, east), MessageBody: '{"hello":"east"}' }),
      );
    } finally {
      eastSqs.destroy();
    }
    const [fromEast] = await recorded(1, east);
    expect(fromEast?.record).toMatchObject({ body: '{"hello":"east"}', awsRegion: east });
  });

  it('redeliver the items a function reports as failed (after the visibility timeout), and only those', async () => {
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: messages,
        Entries: [
          { Id: 'ok', MessageBody: '{}' },
          { Id: 'flaky', MessageBody: '{"failUntilReceive":2}' },
        ],
      }),
    );
    const idOf = (entryId: string) => sent.Successful?.find((s) => s.Id === entryId)?.MessageId;
    const records = (await recorded(3)).map(({ record }) => [record.messageId, record.attributes.ApproximateReceiveCount]);
    expect(records).toHaveLength(3);
    expect(records).toEqual(
      expect.arrayContaining([
        [idOf('ok'), '1'],
        [idOf('flaky'), '1'],
        [idOf('flaky'), '2'],
      ]),
    );
    // "Only those": once both messages are gone from the queue (deleted after success), nothing more was recorded.
    for (let drained = false; !drained; ) {
      drained = JSON.stringify(await counts(FIXTURE_QUEUES.messages)) === JSON.stringify({ visible: 0, inFlight: 0 });
      if (!drained) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await counts(FIXTURE_QUEUES.recordedMessages)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('redeliver the whole batch when the function throws', async () => {
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: messages, MessageBody: '{"throwUntilReceive":2}' }));
    const records = (await recorded(2)).map(({ record }) => [record.messageId, record.attributes.ApproximateReceiveCount]);
    expect(records).toEqual([
      [sent.MessageId, '1'],
      [sent.MessageId, '2'],
    ]);
  });

  it("move a message that keeps failing to the dead-letter queue after the redrive policy's maxReceiveCount (2)", async () => {
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: messages,
        MessageBody: '{"failUntilReceive":99}',
        MessageAttributes: { reason: { DataType: 'String', StringValue: 'kept' } },
      }),
    );
    const [dead] = await receiveMessages(engine.stack.info, west, FIXTURE_QUEUES.messagesDeadLetter);
    expect(dead).toMatchObject({
      MessageId: sent.MessageId,
      Body: '{"failUntilReceive":99}',
      MessageAttributes: { reason: { DataType: 'String', StringValue: 'kept' } },
      Attributes: { DeadLetterQueueSourceArn: `arn:aws-us-gov:sqs:${west}:000000000000:${FIXTURE_QUEUES.messages}` },
    });
    // The function saw it twice; the third receive moved it instead of invoking the function.
    const records = (await recorded(2)).map(({ record }) => [record.messageId, record.attributes.ApproximateReceiveCount]);
    expect(records).toEqual([
      [sent.MessageId, '1'],
      [sent.MessageId, '2'],
    ]);
    expect(await counts(FIXTURE_QUEUES.recordedMessages)).toEqual({ visible: 0, inFlight: 0 });
  });
});

describe("functions' schedule events", () => {
  it('tick the function with Scheduled Events, every EFT_LOCAL_SCHEDULE_TICK_SECONDS', async () => {
    await sqs.send(new PurgeQueueCommand({ QueueUrl: urlOf(FIXTURE_QUEUES.recordedTicks) }));
    const ticks = (await receiveMessages(engine.stack.info, west, FIXTURE_QUEUES.recordedTicks, 2)).map((m) =>
      JSON.parse(m.Body ?? ''),
    );
    for (const tick of ticks) {
      expect(tick).toEqual({
        version: '0',
        id: expect.any(String),
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: '000000000000',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        region: west,
        resources: [expect.stringMatching(/^arn:aws-us-gov:events:us-gov-west-1:000000000000:rule\//)],
        detail: {},
      });
    }
    expect(ticks[0].id).not.toBe(ticks[1].id);
    expect(engine.stack.info.regions[west]?.environment.SCHEDULE_MIN_RATE_SECONDS).toBe('1');
  });
});

describe('local EventBridge', () => {
  const patterned = FIXTURE_QUEUES.patterned;
  beforeEach(() => sqs.send(new PurgeQueueCommand({ QueueUrl: urlOf(patterned) })));
  const entry = (source: string, detail: Record<string, unknown>): PutEventsRequestEntry => ({
    EventBusName: FIXTURE_BUS,
    Source: source,
    DetailType: 'Thing Happened',
    Detail: JSON.stringify(detail),
  });

  it("delivers to a rule's queue the events its pattern matches, and no others (nor a disabled rule's)", async () => {
    const events = new EventBridgeClient({
      endpoint: engine.stack.info.eventBridge[west],
      region: west,
      credentials: engine.stack.info.credentials,
    });
    try {
      const put = await events.send(
        new PutEventsCommand({
          Entries: [
            entry('fixture.paint', { colour: 'blue', size: 20 }), // colour
            entry('other.paint', { colour: 'red', size: 20 }), // source prefix
            entry('fixture.paint', { colour: 'red', size: 10 }), // numeric > 10
            entry('fixture.paint', { colour: 'red', size: 20, note: 'x' }), // note must not exist
            entry('fixture.paint', { colour: 'green', size: 11, extra: true }), // matches
            { ...entry('fixture.paint', {}), Detail: '[1, 2]' },
            { ...entry('fixture.paint', {}), EventBusName: 'no-such-bus' },
          ],
        }),
      );
      expect(put.FailedEntryCount).toBe(2);
      expect(put.Entries?.slice(5).map((e) => e.ErrorCode)).toEqual(['MalformedDetail', 'ResourceNotFoundException']);
      // PutEvents delivers before it answers: the queue holds the one match, and nothing else.
      expect(await counts(patterned)).toEqual({ visible: 1, inFlight: 0 });
      const [message] = await receiveMessages(engine.stack.info, west, patterned);
      expect(JSON.parse(message?.Body ?? '')).toEqual({
        version: '0',
        id: put.Entries?.[4]?.EventId,
        'detail-type': 'Thing Happened',
        source: 'fixture.paint',
        account: '000000000000',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        region: west,
        resources: [],
        detail: { colour: 'green', size: 11, extra: true },
      });
    } finally {
      events.destroy();
    }
  });

  it("gives a PutEvents event the caller's account (a customer's, by its access key)", async () => {
    const alice = engine.stack.info.customers.find((c) => c.customerId === 'customer-a');
    const events = new EventBridgeClient({ endpoint: engine.stack.info.eventBridge[west], region: west, credentials: alice });
    try {
      await events.send(new PutEventsCommand({ Entries: [entry('fixture.paint', { colour: 'red', size: 99 })] }));
    } finally {
      events.destroy();
    }
    const [message] = await receiveMessages(engine.stack.info, west, patterned);
    expect(JSON.parse(message?.Body ?? '').account).toBe('111111111111');
  });
});

describe("customers' S3 events", () => {
  it('reach both regions’ ingest buses as S3 "Object Created" events: key as written, size, etag, sequencer, owner account', async () => {
    const key = 'in/quarterly report ü €+%#?.csv';
    const content = 'id,amount\n1,2\n';
    // Not forwarded: the engine's own staging bucket; dropped by the rule's pattern: ignored/…
    await s3.send(
      new PutObjectCommand({ Bucket: engine.stack.info.regions[west]?.stagingBucket, Key: 'in/staged.csv', Body: 'x' }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: 'ignored/x.csv', Body: 'x' }));
    const put = await s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: key, Body: content }));
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'customer-a-outbox', Key: 'in/big.bin' }));
    const part = await s3.send(
      new UploadPartCommand({
        Bucket: 'customer-a-outbox',
        Key: 'in/big.bin',
        UploadId: upload.UploadId,
        PartNumber: 1,
        Body: 'part one',
      }),
    );
    const completed = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'customer-a-outbox',
        Key: 'in/big.bin',
        UploadId: upload.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    const copied = await s3.send(
      new CopyObjectCommand({
        Bucket: 'customer-b-inbox',
        Key: 'copies/q 1.csv',
        CopySource: `customer-a-outbox/${encodeURIComponent(key)}`,
      }),
    );

    const inWest = (await receiveMessages(engine.stack.info, west, FIXTURE_QUEUES.objectsCreated, 3)).map((m) =>
      JSON.parse(m.Body ?? ''),
    );
    const inEast = (await receiveMessages(engine.stack.info, east, FIXTURE_QUEUES.objectsCreated, 3)).map((m) =>
      JSON.parse(m.Body ?? ''),
    );
    expect(inEast).toEqual(inWest); // the one event, forwarded to each region

    const unquote = (etag?: string) => etag?.replaceAll('"', '');
    const [created, multipart, copy] = inWest;
    expect(created).toEqual({
      version: '0',
      id: expect.any(String),
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '111111111111',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      region: west,
      resources: ['arn:aws-us-gov:s3:::customer-a-outbox'],
      detail: {
        version: '0',
        bucket: { name: 'customer-a-outbox' },
        object: {
          key,
          size: Buffer.byteLength(content),
          etag: unquote(put.ETag),
          sequencer: expect.stringMatching(/^[0-9A-F]+$/),
        },
        'request-id': expect.any(String),
        requester: '111111111111',
        'source-ip-address': expect.any(String),
        reason: 'PutObject',
      },
    });
    expect(unquote(put.ETag)).toBe(md5(content));
    expect(multipart.detail).toMatchObject({
      object: { key: 'in/big.bin', size: 'part one'.length, etag: unquote(completed.ETag) },
      reason: 'CompleteMultipartUpload',
    });
    expect(copy).toMatchObject({
      account: '222222222222',
      resources: ['arn:aws-us-gov:s3:::customer-b-inbox'],
      detail: { object: { key: 'copies/q 1.csv', etag: unquote(copied.CopyObjectResult?.ETag) }, reason: 'CopyObject' },
    });
    // Sequencers grow with every write (compared as hex numbers of equal length).
    const sequencers = inWest.map((event) => BigInt(`0x${event.detail.object.sequencer}`));
    expect(sequencers).toEqual([...sequencers].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(new Set(sequencers).size).toBe(3);
  });
});
