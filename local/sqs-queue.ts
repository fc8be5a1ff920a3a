import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { AwsJsonError } from './aws-json';

/** A message attribute as SQS's JSON protocol carries it (BinaryValue base64). */
export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
}

export interface QueueSettings {
  name: string;
  arn: string;
  /** Seconds a received message stays invisible (SQS default 30). */
  visibilityTimeoutSeconds: number;
  /** Seconds a message is kept (SQS default 4 days). */
  retentionSeconds: number;
  /** Seconds a sent message waits before its first delivery (SQS default 0). */
  delaySeconds: number;
  /** Long polling when a receive names no WaitTimeSeconds. */
  receiveWaitSeconds: number;
  /** SQS's redrive policy: after maxReceiveCount receives, the next receive moves the message there. */
  redrive?: { deadLetterQueueArn: string; maxReceiveCount: number };
}

/** A message as a receive hands it out: a snapshot, with the receipt handle of this receive. */
export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  md5OfBody: string;
  messageAttributes: Record<string, MessageAttributeValue>;
  md5OfMessageAttributes?: string;
  attributes: Record<string, string>;
}

interface StoredMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  messageAttributes: Record<string, MessageAttributeValue>;
  md5OfMessageAttributes?: string;
  senderId: string;
  sentTimestamp: number;
  firstReceiveTimestamp?: number;
  receiveCount: number;
  /** Invisible before this (delayed, or received and not yet deleted). */
  visibleAt: number;
  /** The latest receive's handle: only it deletes the message or changes its visibility. */
  receiptHandle?: string;
  deadLetterQueueSourceArn?: string;
}

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');

/**
 * MD5OfMessageAttributes as SQS computes it: the attributes sorted by name,
 * each as name, data type (length-prefixed UTF-8), a transport byte (1 string,
 * 2 binary) and the value (length-prefixed).
 */
export function md5OfMessageAttributes(attributes: Record<string, MessageAttributeValue>): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const parts: Buffer[] = [];
  const field = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  };
  for (const name of names) {
    const value = attributes[name] as MessageAttributeValue;
    field(Buffer.from(name, 'utf8'));
    field(Buffer.from(value.DataType, 'utf8'));
    const binary = value.DataType.startsWith('Binary');
    parts.push(Buffer.from([binary ? 2 : 1]));
    field(binary ? Buffer.from(value.BinaryValue ?? '', 'base64') : Buffer.from(value.StringValue ?? '', 'utf8'));
  }
  return md5(Buffer.concat(parts));
}

const invalidHandle = (handle: string) =>
  new AwsJsonError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`, {
    queryCode: 'ReceiptHandleIsInvalid',
  });

/**
 * One standard SQS queue, in memory, with SQS's semantics where the engine
 * relies on them: at-least-once delivery in send order, a visibility timeout
 * per receive (multiplied by `visibilityScale`, so tests can shrink the
 * declared timeouts), receipt handles that change with every receive (only the
 * latest deletes), long polling, retention, and the redrive policy (a message
 * received maxReceiveCount times moves to the dead-letter queue on its next
 * receive, keeping its id, body and attributes).
 */
export class LocalQueue {
  private readonly messages = new Map<string, StoredMessage>();
  private readonly waiters = new Set<() => void>();
  private closed = false;
  readonly createdTimestamp = Math.floor(Date.now() / 1000);

  constructor(
    readonly settings: QueueSettings,
    private readonly options: { visibilityScale: number; deadLetterQueue?: () => LocalQueue | undefined },
  ) {}

  get name(): string {
    return this.settings.name;
  }

  send(input: {
    body: string;
    messageAttributes?: Record<string, MessageAttributeValue>;
    delaySeconds?: number;
    senderId: string;
  }) {
    const now = Date.now();
    const messageAttributes = input.messageAttributes ?? {};
    const message: StoredMessage = {
      messageId: randomUUID(),
      body: input.body,
      md5OfBody: md5(input.body),
      messageAttributes,
      md5OfMessageAttributes: md5OfMessageAttributes(messageAttributes),
      senderId: input.senderId,
      sentTimestamp: now,
      receiveCount: 0,
      visibleAt: now + (input.delaySeconds ?? this.settings.delaySeconds) * 1000,
    };
    this.messages.set(message.messageId, message);
    this.notify();
    return { messageId: message.messageId, md5OfBody: message.md5OfBody, md5OfMessageAttributes: message.md5OfMessageAttributes };
  }

  /**
   * Up to `max` visible messages, made invisible for the visibility timeout;
   * with `waitMs`, waits that long for one to become visible (long polling).
   */
  async receive(input: {
    max: number;
    visibilityTimeoutSeconds?: number;
    waitMs?: number;
    /** Ends the wait early (the poller stops). */
    signal?: AbortSignal;
  }): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + (input.waitMs ?? this.settings.receiveWaitSeconds * 1000);
    for (;;) {
      if (input.signal?.aborted) return [];
      const taken = this.take(input.max, input.visibilityTimeoutSeconds ?? this.settings.visibilityTimeoutSeconds);
      const now = Date.now();
      if (taken.length > 0 || now >= deadline || this.closed) return taken;
      await this.changeOrTime(Math.min(deadline, this.nextVisibleAt() ?? deadline), input.signal);
    }
  }

  /** DeleteMessage: true if this handle (the latest receive's) deleted the message; a stale one deletes nothing, as in SQS. */
  delete(receiptHandle: string): boolean {
    const message = this.messages.get(this.messageIdOf(receiptHandle));
    if (!message || message.receiptHandle !== receiptHandle) return false;
    this.messages.delete(message.messageId);
    return true;
  }

  /** ChangeMessageVisibility of a message in flight (0 makes it visible at once). */
  changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): void {
    const message = this.messages.get(this.messageIdOf(receiptHandle));
    if (!message || message.receiptHandle !== receiptHandle || message.visibleAt <= Date.now()) {
      throw new AwsJsonError('MessageNotInflight', 'The message referred to is not in flight.', {
        queryCode: 'AWS.SimpleQueueService.MessageNotInflight',
      });
    }
    message.visibleAt = Date.now() + this.scaled(visibilityTimeoutSeconds);
    this.notify();
  }

  purge(): void {
    this.messages.clear();
  }

  /** ApproximateNumberOfMessages, …NotVisible, …Delayed (exact here). */
  counts(): { visible: number; inFlight: number; delayed: number } {
    this.expire(Date.now());
    const now = Date.now();
    const counts = { visible: 0, inFlight: 0, delayed: 0 };
    for (const message of this.messages.values()) {
      if (message.visibleAt <= now) counts.visible++;
      else if (message.receiveCount > 0) counts.inFlight++;
      else counts.delayed++;
    }
    return counts;
  }

  /** Ends every long poll (the process stops). */
  close(): void {
    this.closed = true;
    this.notify();
  }

  /** A message its source queue's redrive policy moves here: same id, body, attributes and counts. */
  private adopt(message: StoredMessage, sourceArn: string): void {
    this.messages.set(message.messageId, {
      ...message,
      receiptHandle: undefined,
      visibleAt: Date.now(),
      deadLetterQueueSourceArn: sourceArn,
    });
    this.notify();
  }

  private take(max: number, visibilityTimeoutSeconds: number): ReceivedMessage[] {
    const now = Date.now();
    this.expire(now);
    const taken: ReceivedMessage[] = [];
    for (const message of this.messages.values()) {
      if (taken.length >= max) break;
      if (message.visibleAt > now) continue;
      const redrive = this.settings.redrive;
      if (redrive && message.receiveCount >= redrive.maxReceiveCount) {
        const deadLetterQueue = this.options.deadLetterQueue?.();
        if (deadLetterQueue) {
          this.messages.delete(message.messageId);
          deadLetterQueue.adopt(message, this.settings.arn);
          continue;
        }
      }
      message.receiveCount++;
      message.firstReceiveTimestamp ??= now;
      message.receiptHandle = `${Buffer.from(message.messageId).toString('base64url')}.${randomBytes(24).toString('base64url')}`;
      message.visibleAt = now + this.scaled(visibilityTimeoutSeconds);
      taken.push({
        messageId: message.messageId,
        receiptHandle: message.receiptHandle,
        body: message.body,
        md5OfBody: message.md5OfBody,
        messageAttributes: message.messageAttributes,
        md5OfMessageAttributes: message.md5OfMessageAttributes,
        attributes: {
          SenderId: message.senderId,
          SentTimestamp: String(message.sentTimestamp),
          ApproximateReceiveCount: String(message.receiveCount),
          ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp),
          ...(message.deadLetterQueueSourceArn ? { DeadLetterQueueSourceArn: message.deadLetterQueueSourceArn } : {}),
        },
      });
    }
    return taken;
  }

  private expire(now: number): void {
    const oldest = now - this.settings.retentionSeconds * 1000;
    for (const message of this.messages.values()) if (message.sentTimestamp < oldest) this.messages.delete(message.messageId);
  }

  private nextVisibleAt(): number | undefined {
    let next: number | undefined;
    for (const message of this.messages.values()) if (next === undefined || message.visibleAt < next) next = message.visibleAt;
    return next;
  }

  private messageIdOf(receiptHandle: string): string {
    const [id = '', nonce] = receiptHandle.split('.');
    const messageId = Buffer.from(id, 'base64url').toString('utf8');
    if (!nonce || !/^[0-9a-f-]{36}$/.test(messageId)) throw invalidHandle(receiptHandle);
    return messageId;
  }

  private scaled(seconds: number): number {
    return seconds * 1000 * this.options.visibilityScale;
  }

  private notify(): void {
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Resolves at `until`, or sooner when a message is sent, moved here or made visible, or the signal aborts. */
  private changeOrTime(until: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, until - Date.now()));
      this.waiters.add(wake);
      signal?.addEventListener('abort', wake);
    });
  }
}
