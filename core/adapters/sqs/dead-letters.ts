import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetter, DeadLetters } from '../../domain/ports';

/**
 * A dead-letter queue the engine writes to itself: the message's body as it
 * was received, with why it was set aside as message attributes (`reason`, a
 * code; `detail`, for the operator), so the DLQ can be read (and redriven
 * after a fix) without the function's logs.
 */
export class SqsDeadLetters implements DeadLetters {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(letter: DeadLetter): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        // SQS refuses an empty body; a message that had none says so.
        MessageBody: letter.body === '' ? '(empty)' : letter.body,
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: letter.reason },
          detail: { DataType: 'String', StringValue: letter.detail || letter.reason },
        },
      }),
    );
  }
}
