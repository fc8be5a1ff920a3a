import { readFile } from 'node:fs/promises';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import SftpClient from 'ssh2-sftp-client';
import { LeaseHeldError } from '../core/domain/errors';
import { deriveIdempotencyKey } from '../core/domain/job';
import { tokenOf } from '../core/domain/lease';
import { acquireLease } from '../core/domain/lease-service';
import { buildStores } from '../core/runtime/wiring';
import type { LocalStackInfo } from './stack';

const step = (text: string) => console.log(`• ${text}`);

/**
 * What `npm start` shows: the engine's core guarantees working against the
 * local stand-ins, the way the deployed functions use them.
 */
export async function runWalkthrough(info: LocalStackInfo): Promise<void> {
  const [westRegion, eastRegion] = Object.keys(info.regions);
  const west = buildStores(info.regions[westRegion ?? '']?.environment);
  const east = buildStores(info.regions[eastRegion ?? '']?.environment);

  const request = {
    customerId: 'customer-a',
    flowType: 'SFTP_TO_S3' as const,
    sourceEndpointId: 'ep_partner_sftp',
    sourcePath: '/outbound/report.csv',
    targetEndpointId: 'ep_customer_bucket',
    targetPath: 'inbox/report.csv',
  };
  const idempotencyKey = deriveIdempotencyKey({ ...request, file: { size: 1024, modifiedAt: 1_700_000_000_000 } });
  const first = await west.jobs.create({ ...request, idempotencyKey }, { actor: 'customer:demo', region: west.region });
  const replay = await east.jobs.create({ ...request, idempotencyKey }, { actor: 'customer:demo', region: east.region });
  step(
    `job ${first.job.jobId} created in ${west.region} (${first.job.status}); the same file submitted in ${east.region} maps to the same job: created=${replay.created}`,
  );

  const westExecution = `demo-west-${Date.now()}`;
  const lease = await acquireLease(west, { partitionId: first.job.partitionId, executionId: westExecution });
  step(`${west.region} holds the partition lease ${lease.partitionId} at epoch ${lease.epoch}`);
  try {
    await acquireLease(east, { partitionId: first.job.partitionId, executionId: `demo-east-${Date.now()}` });
    throw new Error('both regions got the lease');
  } catch (error) {
    if (!(error instanceof LeaseHeldError)) throw error;
    step(`${east.region} is refused while the lease is live: ${error.message}`);
  }
  await west.leases.release(tokenOf(lease, westExecution));

  for (const status of ['QUEUED', 'RUNNING', 'VERIFYING', 'SUCCEEDED'] as const) {
    await west.jobs.transition(first.job, status, { actor: 'demo', region: west.region });
  }
  const done = await west.jobs.get(first.job);
  step(`lifecycle: ${done?.transitions.map((t) => t.status).join(' → ')}`);

  const s3 = new S3Client({
    endpoint: info.s3.endpoint,
    region: westRegion,
    forcePathStyle: true,
    credentials: info.credentials,
  });
  const bucket = info.regions[westRegion ?? '']?.stagingBucket;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'walkthrough/hello.txt', Body: 'hello from eft\n' }));
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'walkthrough/' }));
  step(`S3: s3://${bucket}/ holds ${listed.Contents?.map((o) => `${o.Key} (${o.Size} B)`).join(', ')}`);
  s3.destroy();

  const sftp = new SftpClient();
  await sftp.connect({
    host: info.partnerSftp.host,
    port: info.partnerSftp.port,
    username: info.partnerSftp.username,
    privateKey: await readFile(info.partnerSftp.privateKeyPath),
  });
  try {
    await sftp.mkdir('/outbound', true);
    await sftp.put(Buffer.from('id,amount\n1,100\n'), '/outbound/report.csv');
    const files = await sftp.list('/outbound');
    step(`partner SFTP: /outbound holds ${files.map((f) => `${f.name} (${f.size} B)`).join(', ')}`);
  } finally {
    await sftp.end();
  }
}
