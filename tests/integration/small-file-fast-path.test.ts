import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { startTransfer } from '../../core/control-plane/orchestration/orchestration';
import { tokenOf } from '../../core/domain/lease';
import type { JobKey } from '../../core/domain/ports';
import { createLogger } from '../../core/observability/logger';
import { buildSmallTransfer, DEADLINE_MARGIN_MS, runSmallTransfer } from '../../core/runtime/small-transfer';
import { buildOrchestration } from '../../core/runtime/wiring';
import type { ApiClient } from '../../local/api-client';
import { awaitJob } from '../../local/jobs';
import { REGIONS } from '../../local/stack';
import { activeEndpoint, partnerEndpoint, startTestEngine, type TestEngine } from '../support/local-engine';
import { readObjectIfAny } from '../support/s3';

/**
 * The small-file fast path through the whole local engine (API, the deployed state machine, its
 * Lambda tasks in the region process, the worker as a child process): a single SFTP file up to the
 * stage's smallFileThresholdBytes (16 MiB) runs in the smallTransfer function (RunSmallTransfer),
 * a larger one on the worker. Which path a job took is read from its execution's history.
 */
const THRESHOLD = 16 * 1024 * 1024;
const CUSTOMER = 'customer-a';

let engine: TestEngine;
let alice: ApiClient;
let s3: S3Client;
let partnerOut: string;
let partnerIn: string;
let outbox: string;
let inbox: string;
let run = 0;

const read = (bucket: string, key: string) => readObjectIfAny(s3, bucket, key);

/** The Task states the job's execution entered, in order (GetExecutionHistory of the region that ran it). */
async function tasksOf(jobId: string): Promise<string[]> {
  const job = await engine.stores.jobs.get({ customerId: CUSTOMER, jobId });
  const executionArn = job?.runningExecutionId ?? '';
  const region = executionArn.split(':')[3] ?? '';
  const client = new SFNClient({
    endpoint: engine.stack.info.stepFunctions[region],
    region,
    credentials: engine.stack.info.credentials,
  });
  try {
    const { events = [] } = await client.send(new GetExecutionHistoryCommand({ executionArn }));
    return events.filter((e) => e.type === 'TaskStateEntered').map((e) => e.stateEnteredEventDetails?.name ?? '');
  } finally {
    client.destroy();
  }
}

/** POST /transfers of one file; the job once it has ended. */
async function transfer(source: { endpointId: string; path: string }, target: { endpointId: string; path: string }) {
  const response = await alice.post('/transfers', { source, target });
  expect(response.status).toBe(201);
  expect(response.body.jobs).toHaveLength(1);
  return awaitJob(alice, response.body.jobs[0].jobId, 120_000);
}

beforeAll(async () => {
  engine = await startTestEngine({ EFT_LOCAL_RETRY_INTERVAL_MS: '100' });
  alice = engine.alice.west;
  const info = engine.stack.info;
  s3 = new S3Client({ endpoint: info.s3.endpoint, region: REGIONS.west, forcePathStyle: true, credentials: info.credentials });
  await mkdir(join(info.partnerSftp.root, 'outbound'), { recursive: true });
  await mkdir(join(info.partnerSftp.root, 'inbound'), { recursive: true });
  const sftpEndpoint = (name: string, basePath: string) => partnerEndpoint(info, { name, direction: 'BOTH', basePath });
  const s3Endpoint = (name: string, bucket: string, prefix: string) => ({
    type: 'S3',
    name,
    direction: 'BOTH',
    s3: { bucket, prefix, region: REGIONS.west },
  });
  [partnerOut, partnerIn, outbox, inbox] = await Promise.all([
    activeEndpoint(alice, await sftpEndpoint('partner outbound', '/outbound')),
    activeEndpoint(alice, await sftpEndpoint('partner inbound', '/inbound')),
    activeEndpoint(alice, s3Endpoint('outbox', 'customer-a-outbox', 'out/')),
    activeEndpoint(alice, s3Endpoint('inbox', 'customer-a-inbox', 'in/')),
  ]);
}, 120_000);
afterAll(async () => {
  s3.destroy();
  await engine?.close();
});
beforeEach(() => {
  run++;
});

describe('the small-file fast path', () => {
  it('moves one small SFTP file to S3 in the function, not on the worker, byte for byte', async () => {
    const content = randomBytes(1024);
    await writeFile(join(engine.stack.info.partnerSftp.root, 'outbound', `small-${run}.dat`), content);
    const job = await transfer(
      { endpointId: partnerOut, path: `small-${run}.dat` },
      { endpointId: inbox, path: `fast/small-${run}.dat` },
    );
    expect(job.status).toBe('SUCCEEDED');
    expect(job.transitions.map((t: { status: string }) => t.status)).toEqual([
      'RECEIVED',
      'QUEUED',
      'RUNNING',
      'VERIFYING',
      'SUCCEEDED',
    ]);
    expect(await tasksOf(job.jobId)).toEqual(['StartTransfer', 'RunSmallTransfer', 'VerifyTransfer', 'ReleaseLease']);
    expect(await read('customer-a-inbox', `in/fast/small-${run}.dat`)).toEqual(content);
  }, 120_000);

  it('moves one small S3 object to SFTP in the function, under its final name, no temporary file left', async () => {
    const content = randomBytes(3000);
    await s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: `out/push-${run}.bin`, Body: content }));
    const job = await transfer(
      { endpointId: outbox, path: `push-${run}.bin` },
      { endpointId: partnerIn, path: `fast-${run}/push.bin` },
    );
    expect(job.status).toBe('SUCCEEDED');
    expect(await tasksOf(job.jobId)).toEqual(['StartTransfer', 'RunSmallTransfer', 'VerifyTransfer', 'ReleaseLease']);
    const dir = join(engine.stack.info.partnerSftp.root, 'inbound', `fast-${run}`);
    expect(await readdir(dir)).toEqual(['push.bin']);
    expect(await readFile(join(dir, 'push.bin'))).toEqual(content);
  }, 120_000);

  it('runs a file above the threshold on the worker', async () => {
    const content = randomBytes(THRESHOLD + 1);
    await writeFile(join(engine.stack.info.partnerSftp.root, 'outbound', `large-${run}.dat`), content);
    const job = await transfer(
      { endpointId: partnerOut, path: `large-${run}.dat` },
      { endpointId: inbox, path: `fast/large-${run}.dat` },
    );
    expect(job.status).toBe('SUCCEEDED');
    expect(await tasksOf(job.jobId)).toEqual(['StartTransfer', 'RunWorker', 'VerifyTransfer', 'ReleaseLease']);
    expect((await read('customer-a-inbox', `in/fast/large-${run}.dat`))?.equals(content)).toBe(true);
  }, 180_000);
});

describe('the small-file fast path, under its lease (the function’s code with the region’s environment)', () => {
  const env = () => engine.stack.info.regions[REGIONS.west]?.environment ?? {};
  const quiet = createLogger({ service: 'eft-test' }, () => undefined);

  /** A job for one partner file to S3, taken RUNNING under the partition lease by StartTransfer, as the state machine does. */
  async function runningJob(name: string) {
    const content = randomBytes(2048);
    await writeFile(join(engine.stack.info.partnerSftp.root, 'outbound', name), content);
    const { job } = await engine.stores.jobs.create(
      {
        customerId: CUSTOMER,
        flowType: 'SFTP_TO_S3',
        sourceEndpointId: partnerOut,
        sourcePath: name,
        targetEndpointId: inbox,
        targetPath: `fenced/${name}`,
        idempotencyKey: `fast-path-${name}`,
        bytesTotal: content.length,
      },
      { actor: 'test', region: REGIONS.west },
    );
    const key: JobKey = { customerId: CUSTOMER, jobId: job.jobId };
    const executionId = `arn:aws-us-gov:states:${REGIONS.west}:000000000000:execution:test:${job.jobId}`;
    const started = await startTransfer(buildOrchestration(env()), { ...key, executionId });
    if (started.action !== 'RUN') throw new Error(`the job did not start: ${JSON.stringify(started)}`);
    expect(started.bytesTotal).toBe(content.length);
    return { key, lease: started.lease, content };
  }

  it('writes nothing when its lease has moved to a newer epoch (fenced out)', async () => {
    const { key, lease } = await runningJob(`fenced-${run}.dat`);
    const leases = engine.stores.leases;
    // The partition passes to another holder (the other region, say): a newer epoch.
    await leases.release(lease);
    const newer = await leases.acquire(lease.partitionId, { executionId: 'another', region: REGIONS.east }, 60_000);
    expect(newer.epoch).toBeGreaterThan(lease.epoch);
    await expect(runSmallTransfer(buildSmallTransfer(env()), quiet, { ...key, lease }, () => 300_000)).rejects.toMatchObject({
      name: 'LeaseLostError',
    });
    expect(await read('customer-a-inbox', `in/fenced/fenced-${run}.dat`)).toBeUndefined();
    const job = await engine.stores.jobs.get(key);
    expect(job).toMatchObject({ status: 'RUNNING', fenceEpoch: lease.epoch });
    expect(job?.result).toBeUndefined();
    expect(job?.lastError).toBeUndefined();
    await leases.release(tokenOf(newer, 'another'));
  }, 60_000);

  it('stops at its deadline without delivering, and the same job then runs to the end under the same lease', async () => {
    const { key, lease, content } = await runningJob(`deadline-${run}.dat`);
    const deps = buildSmallTransfer(env());
    // No time left but the margin: the deadline fires at once.
    await expect(runSmallTransfer(deps, quiet, { ...key, lease }, () => DEADLINE_MARGIN_MS)).rejects.toMatchObject({
      name: 'FastPathDeadlineError',
    });
    expect(await read('customer-a-inbox', `in/fenced/deadline-${run}.dat`)).toBeUndefined();
    expect(await engine.stores.jobs.get(key)).toMatchObject({ status: 'RUNNING', lastError: { code: 'STOPPED' } });
    // What the worker does next (RunWorker runs this same runTransfer under the same lease).
    const { job } = await runSmallTransfer(deps, quiet, { ...key, lease }, () => 300_000);
    expect(job.status).toBe('VERIFYING');
    expect(job.result?.bytes).toBe(content.length);
    expect(await read('customer-a-inbox', `in/fenced/deadline-${run}.dat`)).toEqual(content);
  }, 60_000);
});
