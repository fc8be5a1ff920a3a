import type { IncomingMessage } from 'node:http';
import { AwsJsonError, type AwsJsonServer, startAwsJsonServer } from './aws-json';
import { LOCAL_ACCOUNT_ID, type LocalPseudoParameters, localQueueUrl, type Resources, resolveValue } from './cfn-values';
import { LocalQueue, type MessageAttributeValue, type QueueSettings, type ReceivedMessage } from './sqs-queue';

/** SQS's limits the engine could run into. */
const MAX_MESSAGE_BYTES = 262_144;
const MAX_BATCH_ENTRIES = 10;

/**
 * The queues of the service's resources (AWS::SQS::Queue), as CloudFormation
 * would create them: QueueName, VisibilityTimeout, MessageRetentionPeriod,
 * DelaySeconds, ReceiveMessageWaitTimeSeconds and RedrivePolicy (its
 * deadLetterTargetArn usually `Fn::GetAtt [Queue, Arn]`). FIFO queues are
 * refused: nothing in the engine uses one and they are not emulated.
 */
export function queuesOfResources(resources: Resources, pseudo: LocalPseudoParameters): QueueSettings[] {
  const queues: QueueSettings[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::SQS::Queue') continue;
    const properties = resource.Properties ?? {};
    if (properties.QueueName === undefined)
      throw new Error(`queue ${logicalId} has no QueueName: the local SQS serves queues by name`);
    if (properties.FifoQueue) throw new Error(`queue ${logicalId} is a FIFO queue, which the local SQS does not emulate`);
    const name = resolveValue(properties.QueueName, pseudo, resources);
    const seconds = (value: unknown, otherwise: number) =>
      value === undefined ? otherwise : Number(resolveValue(value, pseudo, resources));
    const redrive = properties.RedrivePolicy as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown } | undefined;
    queues.push({
      name,
      arn: resolveValue({ 'Fn::GetAtt': [logicalId, 'Arn'] }, pseudo, resources),
      visibilityTimeoutSeconds: seconds(properties.VisibilityTimeout, 30),
      retentionSeconds: seconds(properties.MessageRetentionPeriod, 345_600),
      delaySeconds: seconds(properties.DelaySeconds, 0),
      receiveWaitSeconds: seconds(properties.ReceiveMessageWaitTimeSeconds, 0),
      ...(redrive
        ? {
            redrive: {
              deadLetterQueueArn: resolveValue(redrive.deadLetterTargetArn, pseudo, resources),
              maxReceiveCount: Number(resolveValue(redrive.maxReceiveCount, pseudo, resources)),
            },
          }
        : {}),
    });
  }
  return queues;
}

/** The queue name at the end of an SQS queue ARN (`arn:<partition>:sqs:<region>:<account>:<name>`). */
export const queueNameOfArn = (arn: string) => arn.slice(arn.lastIndexOf(':') + 1);

export interface LocalSqs {
  /** The endpoint (AWS_ENDPOINT_URL_SQS). */
  url: string;
  queue(name: string): LocalQueue | undefined;
  queueByArn(arn: string): LocalQueue | undefined;
  close(): Promise<void>;
}

const fail = (type: string, message: string, queryCode = type) => new AwsJsonError(type, message, { queryCode });
const invalid = (message: string) => fail('InvalidParameterValue', message);

function integer(input: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`Value ${JSON.stringify(value)} for parameter ${field} is invalid. Reason: must be between ${min} and ${max}.`);
  }
  return value;
}

function text(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '') {
    throw fail('MissingParameter', `The request must contain the parameter ${field}.`, 'MissingParameter');
  }
  return value;
}

/** SendMessage's MessageAttributes, checked as SQS checks them. */
function messageAttributesOf(value: unknown): Record<string, MessageAttributeValue> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('MessageAttributes must be a map');
  const entries = Object.entries(value as Record<string, Partial<MessageAttributeValue>>);
  if (entries.length > 10) throw invalid(`Number of message attributes [${entries.length}] exceeds the allowed maximum [10].`);
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, attribute] of entries) {
    const dataType = attribute?.DataType;
    if (!/^[A-Za-z0-9_.-]{1,256}$/.test(name)) throw invalid(`Message attribute name '${name}' is invalid.`);
    if (typeof dataType !== 'string' || !/^(String|Number|Binary)(\..+)?$/.test(dataType)) {
      throw invalid(`The message attribute '${name}' has an invalid message attribute type.`);
    }
    if (dataType.startsWith('Binary')) {
      if (typeof attribute.BinaryValue !== 'string')
        throw invalid(`The message attribute '${name}' must contain a non-empty value.`);
      attributes[name] = { DataType: dataType, BinaryValue: attribute.BinaryValue };
    } else {
      if (typeof attribute.StringValue !== 'string' || attribute.StringValue === '') {
        throw invalid(`The message attribute '${name}' must contain a non-empty message attribute value.`);
      }
      if (dataType.startsWith('Number') && !Number.isFinite(Number(attribute.StringValue))) {
        throw invalid(`Can't cast the value of message (user) attribute '${name}' to a number.`);
      }
      attributes[name] = { DataType: dataType, StringValue: attribute.StringValue };
    }
  }
  return attributes;
}

function checkedMessage(input: Record<string, unknown>) {
  const body = text(input, 'MessageBody');
  const messageAttributes = messageAttributesOf(input.MessageAttributes);
  const attributeBytes = Object.entries(messageAttributes).reduce(
    (sum, [name, a]) =>
      sum + name.length + a.DataType.length + (a.StringValue?.length ?? Buffer.from(a.BinaryValue ?? '', 'base64').length),
    0,
  );
  if (Buffer.byteLength(body) + attributeBytes > MAX_MESSAGE_BYTES) {
    throw invalid(`One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`);
  }
  // SQS allows #x9 #xA #xD and #x20 to #xD7FF, #xE000 to #xFFFD, #x10000 to #x10FFFF.
  if (/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u.test(body)) {
    throw invalid('Invalid binary character in the message body. Reason: characters outside the allowed set.');
  }
  return { body, messageAttributes, delaySeconds: integer(input, 'DelaySeconds', 0, 900) };
}

/** Which of a received message's attributes a ReceiveMessage asked for (names, `All`, or `prefix.*`). */
function selected<T>(all: Record<string, T>, names: unknown): Record<string, T> | undefined {
  if (!Array.isArray(names) || names.length === 0) return undefined;
  const wanted = (name: string) =>
    names.some(
      (n) =>
        n === 'All' || n === '.*' || n === name || (typeof n === 'string' && n.endsWith('.*') && name.startsWith(n.slice(0, -1))),
    );
  const chosen = Object.fromEntries(Object.entries(all).filter(([name]) => wanted(name)));
  return Object.keys(chosen).length ? chosen : undefined;
}

function receivedShape(message: ReceivedMessage, input: Record<string, unknown>) {
  const systemNames = [
    ...((input.MessageSystemAttributeNames as unknown[]) ?? []),
    ...((input.AttributeNames as unknown[]) ?? []),
  ];
  const attributes = selected(message.attributes, systemNames);
  const messageAttributes = selected(message.messageAttributes, input.MessageAttributeNames);
  return {
    MessageId: message.messageId,
    ReceiptHandle: message.receiptHandle,
    MD5OfBody: message.md5OfBody,
    Body: message.body,
    ...(attributes ? { Attributes: attributes } : {}),
    ...(messageAttributes
      ? { MessageAttributes: messageAttributes, MD5OfMessageAttributes: message.md5OfMessageAttributes }
      : {}),
  };
}

/** The caller's access key (from the SigV4 Authorization header), which SQS reports as SenderId. */
function senderOf(request: IncomingMessage): string {
  const credential = /Credential=([^/,\s]+)/.exec(String(request.headers.authorization ?? ''));
  return credential?.[1] ?? LOCAL_ACCOUNT_ID;
}

/**
 * A local SQS endpoint (the AWS JSON 1.0 protocol @aws-sdk/client-sqs speaks)
 * serving `queues`, found by the name at the end of the request's QueueUrl.
 * Operations: SendMessage(Batch), ReceiveMessage, DeleteMessage(Batch),
 * ChangeMessageVisibility, GetQueueAttributes, GetQueueUrl, PurgeQueue.
 * `visibilityScale` multiplies every visibility timeout (tests shrink them).
 */
export async function startSqs(options: {
  queues: QueueSettings[];
  region: string;
  visibilityScale?: number;
  port?: number;
  host?: string;
}): Promise<LocalSqs> {
  const byName = new Map<string, LocalQueue>();
  const byArn = new Map<string, LocalQueue>();
  for (const settings of options.queues) {
    const queue = new LocalQueue(settings, {
      visibilityScale: options.visibilityScale ?? 1,
      deadLetterQueue: () => (settings.redrive ? byArn.get(settings.redrive.deadLetterQueueArn) : undefined),
    });
    byName.set(settings.name, queue);
    byArn.set(settings.arn, queue);
  }
  for (const settings of options.queues) {
    if (settings.redrive && !byArn.has(settings.redrive.deadLetterQueueArn)) {
      throw new Error(
        `queue ${settings.name}'s dead-letter queue ${settings.redrive.deadLetterQueueArn} is not among the resources`,
      );
    }
  }

  const queueOf = (input: Record<string, unknown>): LocalQueue => {
    const url = text(input, 'QueueUrl');
    const queue = byName.get(url.slice(url.lastIndexOf('/') + 1));
    if (!queue) throw fail('QueueDoesNotExist', 'The specified queue does not exist.', 'AWS.SimpleQueueService.NonExistentQueue');
    return queue;
  };
  const batchEntries = (input: Record<string, unknown>) => {
    const entries = input.Entries;
    if (!Array.isArray(entries) || entries.length === 0) {
      throw fail(
        'EmptyBatchRequest',
        'There should be at least one entry in the request.',
        'AWS.SimpleQueueService.EmptyBatchRequest',
      );
    }
    if (entries.length > MAX_BATCH_ENTRIES) {
      throw fail(
        'TooManyEntriesInBatchRequest',
        `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}.`,
        'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
      );
    }
    const ids = entries.map((entry) => (entry as { Id?: unknown }).Id);
    if (new Set(ids).size !== ids.length) {
      throw fail(
        'BatchEntryIdsNotDistinct',
        'Two or more batch entries in the request have the same Id.',
        'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
      );
    }
    return entries as Array<Record<string, unknown> & { Id: string }>;
  };
  /** One entry of a batch: its answer, or its failure (SenderFault, Code, Message). */
  const eachEntry = <T>(entries: Array<Record<string, unknown> & { Id: string }>, act: (entry: Record<string, unknown>) => T) => {
    const Successful: Array<T & { Id: string }> = [];
    const Failed: Array<{ Id: string; SenderFault: boolean; Code: string; Message: string }> = [];
    for (const entry of entries) {
      try {
        Successful.push({ Id: entry.Id, ...act(entry) });
      } catch (error) {
        if (!(error instanceof AwsJsonError)) throw error;
        Failed.push({ Id: entry.Id, SenderFault: true, Code: error.options.queryCode ?? error.type, Message: error.message });
      }
    }
    return { Successful, Failed };
  };

  const server: AwsJsonServer = await startAwsJsonServer({
    targetPrefix: 'AmazonSQS',
    contentType: 'application/x-amz-json-1.0',
    errorNamespace: 'com.amazonaws.sqs#',
    port: options.port,
    host: options.host,
    operations: {
      GetQueueUrl: (input) => {
        const name = text(input, 'QueueName');
        if (!byName.has(name))
          throw fail('QueueDoesNotExist', 'The specified queue does not exist.', 'AWS.SimpleQueueService.NonExistentQueue');
        return { QueueUrl: localQueueUrl(options.region, name) };
      },
      SendMessage: (input, request) => {
        const queue = queueOf(input);
        const sent = queue.send({ ...checkedMessage(input), senderId: senderOf(request) });
        return {
          MessageId: sent.messageId,
          MD5OfMessageBody: sent.md5OfBody,
          ...(sent.md5OfMessageAttributes ? { MD5OfMessageAttributes: sent.md5OfMessageAttributes } : {}),
        };
      },
      SendMessageBatch: (input, request) => {
        const queue = queueOf(input);
        const entries = batchEntries(input);
        const total = entries.reduce((sum, entry) => sum + Buffer.byteLength(String(entry.MessageBody ?? '')), 0);
        if (total > MAX_MESSAGE_BYTES) {
          throw fail(
            'BatchRequestTooLong',
            `Batch requests cannot be longer than ${MAX_MESSAGE_BYTES} bytes.`,
            'AWS.SimpleQueueService.BatchRequestTooLong',
          );
        }
        return eachEntry(entries, (entry) => {
          const sent = queue.send({ ...checkedMessage(entry), senderId: senderOf(request) });
          return {
            MessageId: sent.messageId,
            MD5OfMessageBody: sent.md5OfBody,
            ...(sent.md5OfMessageAttributes ? { MD5OfMessageAttributes: sent.md5OfMessageAttributes } : {}),
          };
        });
      },
      ReceiveMessage: async (input) => {
        const queue = queueOf(input);
        const max = integer(input, 'MaxNumberOfMessages', 1, 10) ?? 1;
        const wait = integer(input, 'WaitTimeSeconds', 0, 20);
        const messages = await queue.receive({
          max,
          visibilityTimeoutSeconds: integer(input, 'VisibilityTimeout', 0, 43_200),
          waitMs: wait === undefined ? undefined : wait * 1000,
        });
        // SQS answers {} when the wait ends empty.
        return messages.length ? { Messages: messages.map((message) => receivedShape(message, input)) } : {};
      },
      DeleteMessage: (input) => {
        queueOf(input).delete(text(input, 'ReceiptHandle'));
        return {};
      },
      DeleteMessageBatch: (input) => {
        const queue = queueOf(input);
        return eachEntry(batchEntries(input), (entry) => {
          queue.delete(text(entry, 'ReceiptHandle'));
          return {};
        });
      },
      ChangeMessageVisibility: (input) => {
        const queue = queueOf(input);
        queue.changeVisibility(text(input, 'ReceiptHandle'), integer(input, 'VisibilityTimeout', 0, 43_200) ?? 0);
        return {};
      },
      GetQueueAttributes: (input) => {
        const queue = queueOf(input);
        const { settings } = queue;
        const counts = queue.counts();
        const all: Record<string, string> = {
          QueueArn: settings.arn,
          ApproximateNumberOfMessages: String(counts.visible),
          ApproximateNumberOfMessagesNotVisible: String(counts.inFlight),
          ApproximateNumberOfMessagesDelayed: String(counts.delayed),
          VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
          MessageRetentionPeriod: String(settings.retentionSeconds),
          DelaySeconds: String(settings.delaySeconds),
          ReceiveMessageWaitTimeSeconds: String(settings.receiveWaitSeconds),
          MaximumMessageSize: String(MAX_MESSAGE_BYTES),
          CreatedTimestamp: String(queue.createdTimestamp),
          LastModifiedTimestamp: String(queue.createdTimestamp),
          ...(settings.redrive
            ? {
                RedrivePolicy: JSON.stringify({
                  deadLetterTargetArn: settings.redrive.deadLetterQueueArn,
                  maxReceiveCount: settings.redrive.maxReceiveCount,
                }),
              }
            : {}),
        };
        return { Attributes: selected(all, input.AttributeNames) ?? {} };
      },
      PurgeQueue: (input) => {
        queueOf(input).purge();
        return {};
      },
    },
  });
  return {
    url: server.url,
    queue: (name) => byName.get(name),
    queueByArn: (arn) => byArn.get(arn),
    close: async () => {
      for (const queue of byName.values()) queue.close();
      await server.close();
    },
  };
}
