// Handlers of the local runtime's fixture functions (tests/support/event-fixtures.ts), run by the
// events process as Lambda would run them. Each sends what it got to a queue the test reads, so a
// test awaits a delivery instead of waiting for a moment in time.
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

/** What a message sent to the fixture queue may ask of the recorder. */
export interface RecorderInstruction {
  /** Report the message as a batch item failure while its receive count is below this. */
  failUntilReceive?: number;
  /** Throw (failing the whole batch) while its receive count is below this. */
  throwUntilReceive?: number;
}

let client: SQSClient | undefined;
async function recordTo(queueUrl: string | undefined, payload: unknown): Promise<void> {
  if (!queueUrl) throw new Error('the recorder has no queue URL in its environment');
  client ??= new SQSClient({
    region: process.env.AWS_REGION,
    endpoint: process.env.AWS_ENDPOINT_URL_SQS,
    credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '' },
  });
  await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(payload) }));
}

function instructionOf(body: string): RecorderInstruction {
  try {
    return JSON.parse(body) as RecorderInstruction;
  } catch {
    return {};
  }
}

/** An `sqs` event's function (ReportBatchItemFailures): records each record, then fails as told. */
export async function recordMessages(event: SQSEvent): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  let fail = false;
  for (const record of event.Records) {
    await recordTo(process.env.RECORDED_MESSAGES_QUEUE_URL, { record, batchSize: event.Records.length });
    const receives = Number(record.attributes.ApproximateReceiveCount);
    const instruction = instructionOf(record.body);
    if (receives < (instruction.throwUntilReceive ?? 0)) fail = true;
    if (receives < (instruction.failUntilReceive ?? 0)) failures.push({ itemIdentifier: record.messageId });
  }
  if (fail) throw new Error('the recorder was told to fail the whole batch');
  return { batchItemFailures: failures };
}

/** A `schedule` event's function: records each tick. */
export async function recordTick(event: unknown): Promise<void> {
  await recordTo(process.env.RECORDED_TICKS_QUEUE_URL, event);
}
