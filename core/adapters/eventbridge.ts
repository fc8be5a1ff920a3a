import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, type JobEvent, type JobEventPublisher } from '../domain/notifications';
import { awsClientConfig, engineClient } from './aws-client-config';

/** One client per process (or per simulated region locally), built from the function's environment. */
export function createEventBridgeClient(env: NodeJS.ProcessEnv = process.env): EventBridgeClient {
  return engineClient(new EventBridgeClient(awsClientConfig('EVENTBRIDGE', env)));
}

/** PutEvents takes at most 10 entries. */
const MAX_ENTRIES = 10;

/**
 * Job events on this region's DEFAULT event bus, where a customer (or the operator for them) puts
 * the rules that forward them. PutEvents can accept part of a request: any entry it refuses fails
 * the whole publication, which the stream then retries.
 */
export class EventBridgeJobEvents implements JobEventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName = 'default',
  ) {}

  async publish(events: JobEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += MAX_ENTRIES) {
      const entries: PutEventsRequestEntry[] = events.slice(i, i + MAX_ENTRIES).map((event) => ({
        EventBusName: this.busName,
        Source: EVENT_SOURCE,
        DetailType: event.detailType,
        Time: new Date(event.time),
        Detail: JSON.stringify(event.detail),
      }));
      const result = await this.client.send(new PutEventsCommand({ Entries: entries }));
      if (result.FailedEntryCount) {
        const codes = (result.Entries ?? []).map((e) => e.ErrorCode).filter(Boolean);
        throw new Error(`EventBridge refused ${result.FailedEntryCount} of ${entries.length} job events: ${codes.join(', ')}`);
      }
    }
  }
}
