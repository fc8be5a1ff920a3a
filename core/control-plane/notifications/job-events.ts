import type { JobStatus, TransferJob } from '../../domain/job';
import { type JobEvent, type JobEventPublisher, WEBHOOK_STATUSES, type WebhookStatus } from '../../domain/notifications';
import { toJobView } from '../transfers/view';

export { EVENT_SOURCE, WEBHOOK_STATUSES, type WebhookStatus } from '../../domain/notifications';

/** The job as GET /jobs/{jobId} shows it: never a secret, never the engine's bookkeeping. */
export type JobView = ReturnType<typeof toJobView>;

/** One state change of a job: the status it entered, when, and the job as that write left it. */
export interface JobChange {
  status: JobStatus;
  at: string;
  job: TransferJob;
}

/**
 * The state changes one write of a job made that THIS region announces.
 *
 * A change is a transition the new image has and the old one has not (a job never re-enters a
 * state, so its status names it); one write may make two (RECEIVED and QUEUED at creation). Each
 * transition records the region that wrote it, and only that region announces it: the jobs table
 * is a global table, so each region's stream also carries the writes replicated from the other
 * region, and announcing those too would publish every change twice (once per region) and send
 * every webhook twice. So each change is published once, in the region where it happened; a
 * customer subscribes in both regions (a job runs in either).
 */
export function changesToAnnounce(before: TransferJob | undefined, after: TransferJob | undefined, region: string): JobChange[] {
  if (!after) return [];
  const known = new Set((before?.transitions ?? []).map((t) => t.status));
  return (after.transitions ?? [])
    .filter((t) => !known.has(t.status) && t.region === region)
    .map((t) => ({ status: t.status, at: t.at, job: after }));
}

/** "Job SUCCEEDED" etc.: what a customer's rule matches on (`detail-type`). */
export function detailTypeOf(status: JobStatus): string {
  return `Job ${status}`;
}

export function jobEventOf(change: JobChange): JobEvent {
  return { detailType: detailTypeOf(change.status), time: change.at, detail: toJobView(change.job) };
}

/** Where SUCCEEDED and FAILED changes start webhook deliveries (deliveries.ts). */
export interface WebhookDispatcher {
  dispatch(change: JobChange, view: JobView): Promise<void>;
}

export function isWebhookStatus(status: JobStatus): status is WebhookStatus {
  return (WEBHOOK_STATUSES as readonly JobStatus[]).includes(status);
}

/**
 * Announces one write's changes: webhook deliveries first (idempotent: a retried record finds its
 * deliveries recorded), then the events. So a failure leaves the record to be retried whole, and a
 * retry after the events were published can repeat them (at least once; the pair jobId + status
 * identifies a change).
 */
export async function announceChanges(
  deps: { events: JobEventPublisher; webhooks: WebhookDispatcher },
  changes: JobChange[],
): Promise<void> {
  if (changes.length === 0) return;
  for (const change of changes) {
    if (isWebhookStatus(change.status)) await deps.webhooks.dispatch(change, toJobView(change.job));
  }
  await deps.events.publish(changes.map(jobEventOf));
}
