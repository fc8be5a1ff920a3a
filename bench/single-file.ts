/**
 * One small file SFTP → S3 through the whole local engine, one job at a time:
 * POST /transfers of one file, then the job's own timestamps, createdAt →
 * completedAt (the engine's clock, so how often this script looks does not
 * enter them). The first run loads the handlers (tsx) and is reported apart;
 * the median is over the runs after it.
 *
 *   npx tsx bench/single-file.ts [runs=5] [bytes=1024]
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../local/api-client';
import { awaitJob } from '../local/jobs';
import { REGIONS, startLocalStack } from '../local/stack';

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const bytes = Number(process.argv[3] ?? 1024);
  const stateDir = await mkdtemp(join(tmpdir(), 'eft-single-'));
  const stack = await startLocalStack({ stateDir });
  try {
    const info = stack.info;
    const customer = info.customers.find((c) => c.customerId === 'customer-a');
    if (!customer) throw new Error('no demo customer customer-a');
    const api = new ApiClient(info.apis[REGIONS.west] ?? '', REGIONS.west, customer);
    const onboard = async (body: Record<string, unknown>) => {
      const created = await api.post('/endpoints', body);
      const validated = await api.post(`/endpoints/${created.body.id}/validate`);
      if (validated.body?.endpoint?.status !== 'ACTIVE') throw new Error(`endpoint did not validate: ${validated.text}`);
      return created.body.id as string;
    };
    await mkdir(join(info.partnerSftp.root, 'outbound'), { recursive: true });
    const partner = await onboard({
      type: 'SFTP',
      name: 'partner',
      direction: 'BOTH',
      sftp: {
        host: info.partnerSftp.host,
        port: info.partnerSftp.port,
        username: info.partnerSftp.username,
        basePath: '/outbound',
        hostKeyFingerprint: info.partnerSftp.hostKeyFingerprint,
      },
      credentials: { privateKey: await readFile(info.partnerSftp.privateKeyPath, 'utf8') },
    });
    const inbox = await onboard({
      type: 'S3',
      name: 'inbox',
      direction: 'BOTH',
      s3: { bucket: 'customer-a-inbox', prefix: 'in/', region: REGIONS.west },
    });
    const seconds: number[] = [];
    for (let run = 0; run <= runs; run++) {
      const name = `single-${run}.dat`;
      await writeFile(join(info.partnerSftp.root, 'outbound', name), randomBytes(bytes));
      const response = await api.post('/transfers', {
        source: { endpointId: partner, path: name },
        target: { endpointId: inbox, path: `single/${name}` },
      });
      if (response.status !== 201) throw new Error(`POST /transfers: ${response.status} ${response.text}`);
      const job = await awaitJob(api, response.body.jobs[0].jobId, 120_000);
      if (job.status !== 'SUCCEEDED') throw new Error(`job ${job.jobId} ${job.status}: ${job.errorMessage}`);
      const s = (Date.parse(job.completedAt) - Date.parse(job.createdAt)) / 1000;
      console.log(
        `run ${run}${run === 0 ? ' (first: loads the handlers)' : ''}: created → SUCCEEDED ${s.toFixed(2)} s; load ${loadavg()[0]?.toFixed(2)}`,
      );
      if (run > 0) seconds.push(s);
    }
    const sorted = [...seconds].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(
      `median of ${seconds.length}: ${median?.toFixed(2)} s (min ${sorted[0]?.toFixed(2)}, max ${sorted.at(-1)?.toFixed(2)})`,
    );
  } finally {
    await stack.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
