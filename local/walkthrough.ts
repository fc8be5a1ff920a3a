import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import SftpClient from 'ssh2-sftp-client';
import { ApiClient } from './api-client';
import { awaitJob } from './jobs';
import { customerS3Client } from './s3';
import { type LocalStackInfo, REGIONS } from './stack';

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
      step(`  ${flow.label}: ${job.transitions.map((t: { status: string }) => t.status).join(' → ')}`);
      if (arrived)
        step(
          `    ${job.result.location}: ${arrived.length} bytes, sha256 ${sha256(arrived)} ${intact ? '= source' : '≠ SOURCE'}`,
        );
      else step(`    ${job.error?.code}: ${job.error?.message}`);
    }

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
  }
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
