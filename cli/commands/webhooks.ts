import type { Command } from 'commander';
import type { CreateWebhookInput, WebhookDeliveryView, WebhookView } from '../../core/api/types';
import { action, type Context, integer } from '../context';
import { EXIT, usageError } from '../errors';
import { table } from '../output';

const WEBHOOK_ID = /^whk_[0-9a-z]{26}$/;

function webhookId(id: string): string {
  if (!WEBHOOK_ID.test(id)) throw usageError(`${id} is not a webhook id (whk_ and 26 letters or digits)`);
  return id;
}

async function create(context: Context, o: { url?: string; events: string; description?: string }) {
  if (!o.url) throw usageError('a webhook needs --url');
  const body: CreateWebhookInput = {
    url: o.url,
    events: o.events.split(',').map((e) => e.trim().toUpperCase()) as CreateWebhookInput['events'],
    ...(o.description ? { description: o.description } : {}),
  };
  const webhook = await (await context.client()).post<WebhookView & { secret: string }>('/webhooks', body);
  context.out.result(
    webhook,
    () =>
      `${webhook.id}  ${webhook.url}  ${webhook.events.join(',')}\n` +
      `signing secret (shown this once: keep it to verify deliveries): ${webhook.secret}`,
  );
  return EXIT.OK;
}

async function list(context: Context) {
  const page = await (await context.client()).get<{ items: WebhookView[] }>('/webhooks');
  context.out.result(page, () =>
    table(
      ['ID', 'URL', 'EVENTS'],
      page.items.map((w) => [w.id, w.url, w.events.join(',')]),
    ),
  );
  return EXIT.OK;
}

async function remove(context: Context, id: string) {
  const webhook = await (await context.client()).delete<WebhookView>(`/webhooks/${webhookId(id)}`);
  context.out.result(webhook, () => `${id} deleted`);
  return EXIT.OK;
}

async function deliveries(context: Context, id: string, o: { limit?: number }) {
  const page = await (await context.client()).get<{ items: WebhookDeliveryView[] }>(`/webhooks/${webhookId(id)}/deliveries`, {
    limit: o.limit,
  });
  context.out.result(page, () => {
    const rows = page.items.map((d) => [
      d.deliveryId,
      d.event,
      d.status,
      String(d.attempts),
      String(d.lastHttpStatus ?? ''),
      d.jobId,
    ]);
    return table(['DELIVERY', 'EVENT', 'STATUS', 'ATTEMPTS', 'HTTP', 'JOB'], rows);
  });
  return EXIT.OK;
}

export function webhooksCommand(program: Command): void {
  const webhooks = program.command('webhooks').description('HTTPS callbacks when your jobs end');
  webhooks
    .command('create')
    .description('register a webhook; its signing secret is shown once')
    .option('--url <url>', 'where events are POSTed')
    .option('--events <list>', 'SUCCEEDED, FAILED or both, comma-separated', 'SUCCEEDED,FAILED')
    .option('--description <text>', 'a note for you')
    .action(action(create));
  webhooks.command('list').description('list your webhooks').action(action(list));
  webhooks.command('delete <webhook>').description('delete a webhook (no more deliveries)').action(action(remove));
  webhooks
    .command('deliveries <webhook>')
    .description("a webhook's deliveries, newest first")
    .option('--limit <n>', 'at most this many (1-100)', integer('--limit'))
    .action(action(deliveries));
}
