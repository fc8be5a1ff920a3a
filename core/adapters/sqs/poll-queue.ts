import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { PollQueue, PollRequest } from '../../domain/schedule-polls';
import { createSqsClient } from './client';

/** SendMessageBatch's maximum. */
const BATCH = 10;

/** The schedule polls queue (SCHEDULE_POLLS_QUEUE_URL): one message per claimed run, its body the PollRequest. */
export class SqsPollQueue implements PollQueue {
  private readonly client: SQSClient;

  constructor(
    env: NodeJS.ProcessEnv,
    private readonly queueUrl: string,
  ) {
    this.client = createSqsClient(env);
  }

  async send(polls: readonly PollRequest[]): Promise<PollRequest[]> {
    const unsent: PollRequest[] = [];
    for (let i = 0; i < polls.length; i += BATCH) {
      const batch = polls.slice(i, i + BATCH);
      try {
        const result = await this.client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: batch.map((poll, n) => ({ Id: String(n), MessageBody: JSON.stringify(poll) })),
          }),
        );
        for (const failed of result.Failed ?? []) {
          const poll = batch[Number(failed.Id)];
          if (poll) unsent.push(poll);
        }
      } catch {
        // The whole request failed (throttled, unreachable): the caller releases these runs' claims.
        unsent.push(...batch);
      }
    }
    return unsent;
  }
}
