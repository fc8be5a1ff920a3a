/**
 * Schedules through the whole local engine: POST /schedules, the tick (every
 * second locally) claiming runs in both regions, the SQS poll queue, the poll
 * function listing the partner's folder (the embedded SFTP server), the job's
 * execution to SUCCEEDED, and the archive move on the partner afterwards.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ApiClient } from '../../local/api-client';
import { REGIONS } from '../../local/stack';
import { activeEndpoint, startTestEngine, type TestEngine } from '../support/local-engine';

jest.setTimeout(120_000);

let engine: TestEngine;
let alice: ApiClient;
let s3: S3Client;

beforeAll(async () => {
  engine = await startTestEngine();
  alice = engine.alice.west;
  s3 = new S3Client({
    endpoint: engine.stack.info.s3.endpoint,
    region: REGIONS.west,
    forcePathStyle: true,
    credentials: engine.stack.info.credentials,
  });
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await engine?.close();
});

/** Reads until `done` says what it read is what the test waits for (each read observes the engine's state), or fails at the deadline. */
async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface JobView {
  jobId: string;
  status: string;
  trigger: { kind: string; scheduleId?: string; pollId?: string };
  source: { path: string };
  target: { path: string };
  afterTransfer?: { status: string; attempts: number };
}

async function jobsOf(scheduleId: string): Promise<JobView[]> {
  const listed = await alice.get('/jobs?limit=100');
  return (listed.body.items as JobView[]).filter((job) => job.trigger.scheduleId === scheduleId);
}

it('delivers a file dropped in a scheduled folder on a following tick, archives it at the partner, and never takes it again (not even put back)', async () => {
  const { partnerSftp: partner } = engine.stack.info;
  const run = randomBytes(4).toString('hex');
  const folder = `sched-${run}`;
  await fs.mkdir(path.join(partner.root, folder), { recursive: true });
  const partnerEndpoint = await activeEndpoint(alice, {
    type: 'SFTP',
    name: `partner ${run}`,
    direction: 'BOTH',
    sftp: {
      host: partner.host,
      port: partner.port,
      username: partner.username,
      basePath: '/',
      hostKeyFingerprint: partner.hostKeyFingerprint,
    },
    credentials: { privateKey: await fs.readFile(partner.privateKeyPath, 'utf8') },
  });
  const inbox = await activeEndpoint(alice, {
    type: 'S3',
    name: `inbox ${run}`,
    direction: 'INBOUND',
    s3: { bucket: 'customer-a-inbox', prefix: 'in/', region: REGIONS.west },
  });
  const created = await alice.post('/schedules', {
    name: `pickup ${run}`,
    source: { endpointId: partnerEndpoint, path: folder, pattern: '*.csv' },
    target: { endpointId: inbox, path: `pulled-${run}`, createDirectories: true },
    timing: { kind: 'rate', everySeconds: 1 },
    afterTransfer: { action: 'MOVE', archivePath: `${folder}-archive` },
  });
  expect(created.status).toBe(201);
  const scheduleId = created.body.id as string;

  const content = `id,amount\n1,${run}\n`;
  await fs.writeFile(path.join(partner.root, folder, 'report.csv'), content);

  const [job] = await until(
    'the scheduled job',
    () => jobsOf(scheduleId),
    (jobs) => jobs.some((j) => j.status === 'SUCCEEDED'),
  );
  expect(job).toMatchObject({
    status: 'SUCCEEDED',
    trigger: { kind: 'SCHEDULE', scheduleId, pollId: expect.stringMatching(/^poll_/) },
    source: { path: `${folder}/report.csv` },
    target: { path: `pulled-${run}/report.csv` },
  });
  const object = await s3.send(new GetObjectCommand({ Bucket: 'customer-a-inbox', Key: `in/pulled-${run}/report.csv` }));
  expect(await object.Body?.transformToString()).toBe(content);

  // The archive move runs at a poll after SUCCEEDED, and is recorded on the job.
  const archived = await until(
    'the archive move',
    async () => (await alice.get(`/jobs/${job?.jobId}`)).body as JobView,
    (view) => view.afterTransfer?.status === 'DONE',
  );
  expect(archived).toMatchObject({ status: 'SUCCEEDED', afterTransfer: { action: 'MOVE', status: 'DONE', attempts: 1 } });
  expect(await fs.readFile(path.join(partner.root, `${folder}-archive`, 'report.csv'), 'utf8')).toBe(content);
  await expect(fs.stat(path.join(partner.root, folder, 'report.csv'))).rejects.toThrow();

  // The very same file (path, size, modification time) put back, as if the move had failed: later polls list
  // it and take nothing. Awaited on the polls' own log lines, each saying what it listed and took.
  const original = path.join(partner.root, folder, 'report.csv');
  await fs.copyFile(path.join(partner.root, `${folder}-archive`, 'report.csv'), original);
  const { mtime } = await fs.stat(path.join(partner.root, `${folder}-archive`, 'report.csv'));
  await fs.utimes(original, mtime, mtime);
  const pollsSoFar = engine.stack.logs().length;
  const pollsSeeingIt = await until(
    'two polls listing the file again',
    async () =>
      engine.stack
        .logs()
        .slice(pollsSoFar)
        .filter((line) => line.includes('schedule polled') && line.includes(scheduleId) && line.includes('"listed":1')),
    (lines) => lines.length >= 2,
  );
  for (const line of pollsSeeingIt) expect(line).toContain('"taken":0');
  expect(await jobsOf(scheduleId)).toHaveLength(1);
});
