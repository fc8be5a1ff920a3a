import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import SftpClient from 'ssh2-sftp-client';
import { verifySignature } from '../core/control-plane/notifications/signature';
import { ApiClient } from './api-client';
import { localQueueUrl } from './cfn-values';
import { JOB_EVENTS_DEMO_QUEUE } from './customer-rule';
import { awaitJob } from './jobs';
import { customerS3Client } from './s3';
import { type LocalStackInfo, REGIONS } from './stack';
import { startWebhookReceiver } from './webhook-receiver';

const step = (text: string) => console.log(`• ${text}`);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * What `npm start` shows: a customer onboarding endpoints and moving files
 * through all four flows, over the REST API (SigV4), exactly as against AWS.
 */
export async function runWalkthrough(info: LocalStackInfo): Promise<boolean> {
  const alice = info.customers.find((c) => c.customerId === 'customer-a');
  if (!alice) throw new Error('no demo customer');
  const api = new ApiClient(info.apis[REGIONS.west] ?? '', REGIONS.west, alice);
  const s3 = customerS3Client(info.s3.endpoint, REGIONS.west);
  const partner = info.partnerSftp;
  const sftp = new SftpClient();
  await sftp.connect({
    host: partner.host,
    port: partner.port,
    username: partner.username,
    privateKey: await readFile(partner.privateKeyPath),
  });
  try {
    // The partner and the customer's own bucket have files waiting.
    const run = Date.now().toString(36);
    const report = Buffer.from(`id,amount\n${Array.from({ length: 2000 }, (_, i) => `${i},${i * 7}`).join('\n')}\n`);
    const ledger = randomBytes(3 * 1024 * 1024);
    for (const dir of ['/outbound', '/inbound', '/archive']) await sftp.mkdir(dir, true);
    await sftp.put(report, `/outbound/report-${run}.csv`);
    await s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: `out/ledger-${run}.bin`, Body: ledger }));

    step('onboarding endpoints (POST /endpoints, then POST /endpoints/{id}/validate)');
    const onboard = async (body: Record<string, unknown>) => {
      const created = await api.post('/endpoints', body);
      if (created.status !== 201) throw new Error(`could not create endpoint: ${created.text}`);
      const validated = await api.post(`/endpoints/${created.body.id}/validate`);
      const endpoint = validated.body.endpoint;
      step(`  ${endpoint.name}: ${endpoint.status}${describeCapabilities(endpoint.capabilities)}`);
      return endpoint.id as string;
    };
    const privateKey = await readFile(partner.privateKeyPath, 'utf8');
    const sftpEndpoint = (name: string, basePath: string) => ({
      type: 'SFTP',
      name,
      direction: 'BOTH',
      sftp: {
        host: partner.host,
        port: partner.port,
        username: partner.username,
        basePath,
        hostKeyFingerprint: partner.hostKeyFingerprint,
      },
      credentials: { privateKey },
    });
    const partnerOut = await onboard(sftpEndpoint('partner outbound', '/outbound'));
    const partnerIn = await onboard(sftpEndpoint('partner inbound', '/inbound'));
    const partnerArchive = await onboard(sftpEndpoint('partner archive', '/archive'));
    const outbox = await onboard({
      type: 'S3',
      name: 'customer outbox',
      direction: 'OUTBOUND',
      s3: { bucket: 'customer-a-outbox', prefix: 'out/', region: REGIONS.west },
    });
    const inbox = await onboard({
      type: 'S3',
      name: 'customer inbox',
      direction: 'INBOUND',
      s3: { bucket: 'customer-a-inbox', prefix: 'in/', region: REGIONS.west },
    });

    const flows = [
      {
        label: 'S3 → S3 (server-side copy)',
        source: [outbox, `ledger-${run}.bin`],
        target: [inbox, `ledger-${run}.bin`],
        expected: ledger,
      },
      { label: 'SFTP → S3', source: [partnerOut, `report-${run}.csv`], target: [inbox, `report-${run}.csv`], expected: report },
      {
        label: 'S3 → SFTP (.tmp, then rename)',
        source: [outbox, `ledger-${run}.bin`],
        target: [partnerIn, `ledger-${run}.bin`],
        expected: ledger,
      },
      {
        label: 'SFTP → SFTP (staged in S3)',
        source: [partnerOut, `report-${run}.csv`],
        target: [partnerArchive, `report-${run}.csv`],
        expected: report,
      },
    ];
    const hook = await registerWebhook(api);

    step('starting transfers (POST /transfers)');
    const started = await Promise.all(
      flows.map(async (flow) => {
        const body = {
          source: { endpointId: flow.source[0], path: flow.source[1] },
          target: { endpointId: flow.target[0], path: flow.target[1] },
        };
        const response = await api.post('/transfers', body);
        if (response.status !== 201) throw new Error(`${flow.label}: ${response.text}`);
        return { flow, body, jobId: response.body.jobs[0].jobId as string };
      }),
    );
    let allSucceeded = true;
    for (const { flow, jobId } of started) {
      const job = await awaitJob(api, jobId, 120_000);
      const arrived = job.status === 'SUCCEEDED' ? await fetchDelivered(s3, sftp, job.result.location) : undefined;
      const intact = arrived?.equals(flow.expected) ?? false;
      allSucceeded &&= intact;
      step(`  ${flow.label} (${jobId}): ${job.transitions.map((t: { status: string }) => t.status).join(' → ')}`);
      if (arrived)
        step(
          `    ${job.result.location}: ${arrived.length} bytes, sha256 ${sha256(arrived)} ${intact ? '= source' : '≠ SOURCE'}`,
        );
      else step(`    ${job.error?.code}: ${job.error?.message}`);
    }
    const first = started[0];
    if (first) allSucceeded &&= await showNotifications(info, api, hook, first.jobId);

    // A folder of small files: one job each, moved together by one batch (one worker, one SFTP session).
    const folder = `batch-${run}`;
    await sftp.mkdir(`/outbound/${folder}`, true);
    const smallFiles = Array.from({ length: 50 }, (_, i) => randomBytes(1024 + i));
    for (const [i, body] of smallFiles.entries()) await sftp.put(body, `/outbound/${folder}/part-${i}.dat`);
    const batchStart = Date.now();
    const batch = await api.post('/transfers', {
      source: { endpointId: partnerOut, path: `${folder}/` },
      target: { endpointId: inbox, path: folder },
    });
    if (batch.status !== 201) throw new Error(`folder of small files: ${batch.text}`);
    const batchJobs = await Promise.all(
      (batch.body.jobs as Array<{ jobId: string }>).map((job) => awaitJob(api, job.jobId, 120_000)),
    );
    const delivered = batchJobs.filter((job) => job.status === 'SUCCEEDED').length;
    allSucceeded &&= delivered === smallFiles.length;
    step(
      `  SFTP folder → S3, ${smallFiles.length} small files (one job each, one batch): ${delivered} SUCCEEDED in ${((Date.now() - batchStart) / 1000).toFixed(1)} s`,
    );

    const replay = await api.post('/transfers', started[0]?.body);
    step(
      `the same S3 → S3 request again: HTTP ${replay.status}, job ${replay.body.jobs[0].jobId === started[0]?.jobId ? 'is the same one' : 'IS NEW'}: no second delivery`,
    );

    allSucceeded &&= await showRoute(api, s3, sftp, { outbox, partnerIn, run });
    allSucceeded &&= await showSchedule(api, s3, sftp, { partnerOut, inbox, run });

    // Tenant isolation: customer B names customer A's bucket; S3 itself refuses it (README "Bucket ownership").
    const bob = info.customers.find((c) => c.customerId === 'customer-b');
    if (bob) {
      const asBob = new ApiClient(info.apis[REGIONS.west] ?? '', REGIONS.west, bob);
      const claimed = await asBob.post('/endpoints', {
        type: 'S3',
        name: "customer A's outbox, claimed by B",
        direction: 'OUTBOUND',
        s3: { bucket: 'customer-a-outbox', prefix: 'out/', region: REGIONS.west },
      });
      const refused = await asBob.post(`/endpoints/${claimed.body.id}/validate`);
      const reason = refused.body.validation?.reason;
      allSucceeded &&= reason === 'BUCKET_NOT_OWNED';
      step(`customer B registers customer A's bucket: ${refused.body.endpoint?.status} (${reason}): S3 refuses eft acting for B`);
    }
    return allSucceeded;
  } finally {
    await sftp.end();
    s3.destroy();
    await webhook?.receiver.close();
  }
}

// ---- Notifications (docs/notifications.md): the job events a customer's rule gets, and a webhook.

const WALKTHROUGH_WEBHOOK = 'eft local walkthrough';
interface WalkthroughWebhook {
  id: string;
  secret: string;
  receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
}
let webhook: WalkthroughWebhook | undefined;

/** A receiver on loopback and a webhook to it (the walkthrough's of earlier runs, whose receivers are gone, first deleted). */
async function registerWebhook(api: ApiClient): Promise<WalkthroughWebhook> {
  for (const old of (await api.get('/webhooks')).body.items ?? [])
    if (old.description === WALKTHROUGH_WEBHOOK) await api.delete(`/webhooks/${old.id}`);
  const receiver = await startWebhookReceiver();
  const created = await api.post('/webhooks', {
    url: receiver.url,
    events: ['SUCCEEDED', 'FAILED'],
    description: WALKTHROUGH_WEBHOOK,
  });
  if (created.status !== 201) throw new Error(`could not register the webhook: ${created.text}`);
  step(`a webhook for SUCCEEDED and FAILED (POST /webhooks ${created.body.id}) to ${receiver.url}; its signing secret came once`);
  webhook = { id: created.body.id as string, secret: created.body.secret as string, receiver };
  return webhook;
}

interface JobEvent {
  'detail-type': string;
  region: string;
  detail: { jobId: string; status: string };
}

/** The job's events, as the customer's rule (customer-rule.ts) delivers them to its queue, up to SUCCEEDED or FAILED. */
async function jobEvents(info: LocalStackInfo, jobId: string, timeoutMs = 30_000): Promise<JobEvent[]> {
  const sqs = new SQSClient({ endpoint: info.sqs[REGIONS.west], region: REGIONS.west, credentials: info.credentials });
  const QueueUrl = localQueueUrl(REGIONS.west, JOB_EVENTS_DEMO_QUEUE);
  const events: JobEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (!events.some((e) => e.detail.jobId === jobId && ['Job SUCCEEDED', 'Job FAILED'].includes(e['detail-type']))) {
      if (Date.now() > deadline) throw new Error(`no end event of job ${jobId} on the default bus in ${timeoutMs} ms`);
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      if (Messages.length === 0) continue;
      events.push(...Messages.map((m) => JSON.parse(m.Body ?? '{}') as JobEvent));
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    }
    return events.filter((e) => e.detail.jobId === jobId);
  } finally {
    sqs.destroy();
  }
}

/** The job's events on the default bus, its signed webhook delivery (a retry after a 503), and the delivery log. */
async function showNotifications(
  info: LocalStackInfo,
  api: ApiClient,
  hook: WalkthroughWebhook,
  jobId: string,
): Promise<boolean> {
  const events = await jobEvents(info, jobId);
  step(
    `EventBridge, default bus of ${events[0]?.region}, one event per change of the S3 → S3 job (source eft, detail: the job view):`,
  );
  step(`  ${events.map((e) => e['detail-type']).join(' → ')}`);
  const attempts = await hook.receiver.deliveredFor(jobId);
  const delivered = attempts.at(-1);
  const verified =
    delivered !== undefined &&
    verifySignature(hook.secret, delivered.body, String(delivered.headers['eft-signature']), Math.floor(Date.now() / 1000));
  step(
    `webhook: "${delivered && JSON.parse(delivered.body)['detail-type']}" answered HTTP ${attempts.map((a) => a.status).join(', then ')}; eft-signature ${verified ? 'verified with the secret' : 'DOES NOT VERIFY'}`,
  );
  let entry: { status?: string; attempts?: number; lastHttpStatus?: number } | undefined;
  const deadline = Date.now() + 30_000;
  while (entry?.status !== 'SUCCEEDED' && Date.now() < deadline) {
    const log = await api.get(`/webhooks/${hook.id}/deliveries`);
    entry = (log.body.items ?? []).find((d: { jobId: string }) => d.jobId === jobId);
    if (entry?.status !== 'SUCCEEDED') await new Promise((resolve) => setTimeout(resolve, 100));
  }
  step(
    `  delivery log (GET /webhooks/{id}/deliveries): ${entry?.status}, ${entry?.attempts} attempts, last HTTP ${entry?.lastHttpStatus}`,
  );
  return verified && entry?.status === 'SUCCEEDED' && events.at(-1)?.['detail-type'] === 'Job SUCCEEDED';
}

interface JobView {
  jobId: string;
  status: string;
  createdAt: string;
  completedAt?: string;
  trigger: { kind: string; routeId?: string; scheduleId?: string };
  source: { path: string };
  result?: { location: string };
  afterTransfer?: { action: string; status: string; archivePath?: string };
  error?: { code: string; message: string };
}

/**
 * All the customer's jobs, page by page: they are listed in job id order (not by time), and the local
 * engine keeps the jobs of earlier runs.
 */
async function allJobs(api: ApiClient): Promise<JobView[]> {
  const jobs: JobView[] = [];
  let cursor: string | undefined;
  do {
    const listed = await api.get(`/jobs?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    jobs.push(...(listed.body.items as JobView[]));
    cursor = listed.body.nextCursor;
  } while (cursor);
  return jobs;
}

/** Reads the customer's jobs until one matches (the API is polled, as a customer would), within a deadline. */
async function awaitJobWhere(api: ApiClient, what: string, match: (job: JobView) => boolean, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await allJobs(api)).find(match);
    if (job) return job;
    if (Date.now() > deadline) throw new Error(`${what}: no such job after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function created(api: ApiClient, path: string, body: Record<string, unknown>): Promise<string> {
  const response = await api.post(path, body);
  if (response.status !== 201) throw new Error(`POST ${path}: ${response.status} ${response.text}`);
  return response.body.id as string;
}

/**
 * Push: a route from the customer's outbox to the partner. Dropping an object into the bucket is all the
 * customer does: S3's event reaches the ingest bus, the queue and the route function, which creates the job.
 */
async function showRoute(
  api: ApiClient,
  s3: S3Client,
  sftp: SftpClient,
  { outbox, partnerIn, run }: { outbox: string; partnerIn: string; run: string },
): Promise<boolean> {
  const routeId = await created(api, '/routes', {
    name: 'invoices to the partner',
    source: { endpointId: outbox, path: 'invoices', pattern: '*.csv' },
    // A folder the partner does not have yet: eft creates it.
    target: { endpointId: partnerIn, path: `from-bucket-${run}` },
  });
  step(
    `a route (POST /routes ${routeId}): objects created under out/invoices/*.csv go to the partner's inbound/from-bucket-${run}/`,
  );
  const invoice = Buffer.from(`invoice,amount\n${run},42\n`);
  const key = `out/invoices/invoice-${run}.csv`;
  await s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: key, Body: invoice }));
  const dropped = Date.now();
  const first = await awaitJobWhere(api, 'the routed object', (job) => job.trigger.routeId === routeId);
  const job = await awaitJob(api, first.jobId, 120_000);
  const arrived = job.status === 'SUCCEEDED' ? await fetchDelivered(s3, sftp, job.result.location) : undefined;
  const intact = arrived?.equals(invoice) ?? false;
  step(
    `  s3://customer-a-outbox/${key} dropped by the customer → ${job.status} in ${((Date.now() - dropped) / 1000).toFixed(1)} s: ${job.result?.location ?? job.error?.code} ${intact ? '(intact)' : '(NOT INTACT)'}`,
  );
  return intact;
}

/**
 * Pull: a schedule polls the partner's folder every second (locally; a minute at least in AWS), takes a
 * file once two polls saw it unchanged, delivers it, then moves it into the partner's archive folder.
 */
async function showSchedule(
  api: ApiClient,
  s3: S3Client,
  sftp: SftpClient,
  { partnerOut, inbox, run }: { partnerOut: string; inbox: string; run: string },
): Promise<boolean> {
  const folder = `pickup-${run}`;
  await sftp.mkdir(`/outbound/${folder}`, true);
  const scheduleId = await created(api, '/schedules', {
    name: 'partner orders',
    source: { endpointId: partnerOut, path: folder, pattern: '*.csv' },
    target: { endpointId: inbox, path: `orders-${run}` },
    timing: { kind: 'rate', everySeconds: 1 },
    afterTransfer: { action: 'MOVE', archivePath: `${folder}/done` },
  });
  step(`a schedule (POST /schedules ${scheduleId}): poll outbound/${folder}/*.csv every second, archive what was delivered`);
  const orders = Buffer.from(`order,qty\n${run},7\n`);
  await sftp.put(orders, `/outbound/${folder}/orders.csv`);
  const dropped = Date.now();
  const first = await awaitJobWhere(api, 'the pulled file', (job) => job.trigger.scheduleId === scheduleId);
  const job = await awaitJob(api, first.jobId, 120_000);
  const arrived = job.status === 'SUCCEEDED' ? await fetchDelivered(s3, sftp, job.result.location) : undefined;
  const intact = arrived?.equals(orders) ?? false;
  step(
    `  outbound/${folder}/orders.csv dropped by the partner → ${job.status} in ${((Date.now() - dropped) / 1000).toFixed(1)} s: ${job.result?.location ?? job.error?.code} ${intact ? '(intact)' : '(NOT INTACT)'}`,
  );
  // The archive move runs on a poll after the job SUCCEEDED; then later polls find nothing new.
  const archived = await awaitJobWhere(
    api,
    'the archive move',
    (j) => j.jobId === job.jobId && j.afterTransfer?.status !== 'PENDING',
  );
  const moved = (await sftp.exists(`/outbound/${folder}/done/orders.csv`)) === '-';
  step(`  after-transfer MOVE: ${archived.afterTransfer?.status}, the partner's file is now in outbound/${folder}/done/`);
  const polled = await awaitPolls(api, scheduleId, 3);
  const jobs = await allJobs(api);
  const pulls = jobs.filter((j) => j.trigger.scheduleId === scheduleId).length;
  step(`  ${polled} more polls later: ${pulls} job for the schedule: the file was not pulled again`);
  return intact && moved && archived.afterTransfer?.status === 'DONE' && pulls === 1;
}

/** Waits until the schedule has run `runs` more times (its nextRunAt moved on that often), and says how many it saw. */
async function awaitPolls(api: ApiClient, scheduleId: string, runs: number): Promise<number> {
  const seen = new Set<string>();
  const deadline = Date.now() + 60_000;
  while (seen.size <= runs && Date.now() < deadline) {
    seen.add((await api.get(`/schedules/${scheduleId}`)).body.nextRunAt);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return seen.size - 1;
}

/** Downloads what a job delivered, to show it arrived intact. */
async function fetchDelivered(s3: S3Client, sftp: SftpClient, location: string): Promise<Buffer> {
  const s3Match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (s3Match) {
    const object = await s3.send(new GetObjectCommand({ Bucket: s3Match[1], Key: s3Match[2] }));
    return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  }
  const path = new URL(location).pathname;
  return (await sftp.get(path)) as Buffer;
}

/** What the partner allows, and what the validating connection negotiated under the endpoint's SSH security policy. */
function describeCapabilities(capabilities: (Record<string, unknown> & { negotiated?: Record<string, string> }) | undefined) {
  if (!capabilities) return '';
  const { negotiated, ...allowed } = capabilities;
  const allows = Object.entries(allowed)
    .filter(([, value]) => value === true)
    .map(([name]) => name)
    .join(', ');
  const ssh = negotiated ? `; negotiated ${negotiated.kex}, ${negotiated.cipher}, host key ${negotiated.serverHostKey}` : '';
  return ` (partner allows: ${allows}${ssh})`;
}
