/**
 * One SFTP→S3 job through the whole local engine (API, state machine tasks,
 * worker process), followed by its job id alone in what the engine printed:
 * Powertools' structured lines from each of them, every one with the job's
 * customer, and the EMF metric documents (namespace eft) that say it succeeded.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiClient } from '../../local/api-client';
import { awaitJob } from '../../local/jobs';
import { activeEndpoint, partnerEndpoint, startTestEngine, type TestEngine } from '../support/local-engine';

type Line = Record<string, unknown>;

let engine: TestEngine;
let alice: ApiClient;

beforeAll(async () => {
  engine = await startTestEngine({ EFT_LOCAL_RETRY_INTERVAL_MS: '100' });
  alice = engine.alice.west;
}, 120_000);

afterAll(async () => {
  await engine?.close();
});

/** The JSON lines the engine printed (a worker's are prefixed "[worker] "), parsed; anything else is skipped. */
function printedLines(): Array<Line & { fromWorker: boolean }> {
  return engine.stack.logs().flatMap((raw) => {
    const fromWorker = raw.startsWith('[worker] ');
    const text = fromWorker ? raw.slice('[worker] '.length) : raw;
    if (!text.startsWith('{')) return [];
    try {
      return [{ ...(JSON.parse(text) as Line), fromWorker }];
    } catch {
      return [];
    }
  });
}

/** Waits until `test` holds of what has been printed (the last tasks and their lines come after the job ends). */
async function printedUntil<T>(
  test: (lines: ReturnType<typeof printedLines>) => T | undefined,
  about: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = test(printedLines());
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(
        `not printed within ${timeoutMs} ms; ${about}'s lines:\n${engine.stack
          .logs()
          .filter((l) => l.includes(about))
          .join('\n')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const TASKS = ['startTransfer', 'verifyTransfer', 'releaseLease'];

it('prints correlated Powertools lines of the API, the state machine tasks and the worker, and EMF metrics, for one job', async () => {
  const info = engine.stack.info;
  await mkdir(join(info.partnerSftp.root, 'outbound', 'observed'), { recursive: true });
  // Above the small-file fast path's threshold (16 MiB, statemachines/transfer.yml): the job runs on the worker.
  const content = randomBytes(16 * 1024 * 1024 + 48 * 1024);
  await writeFile(join(info.partnerSftp.root, 'outbound', 'observed', 'report.csv'), content);
  const [partner, inbox] = await Promise.all([
    activeEndpoint(
      alice,
      await partnerEndpoint(info, { name: 'observed partner', direction: 'OUTBOUND', basePath: '/outbound' }),
    ),
    activeEndpoint(alice, {
      type: 'S3',
      name: 'observed inbox',
      direction: 'INBOUND',
      s3: { bucket: 'customer-a-inbox', prefix: 'observed/', region: 'us-gov-west-1' },
    }),
  ]);

  const created = await alice.post('/transfers', {
    source: { endpointId: partner, path: 'observed/report.csv' },
    target: { endpointId: inbox, path: 'report.csv' },
  });
  expect(created.status).toBe(201);
  const jobId: string = created.body.jobs[0].jobId;
  const job = await awaitJob(alice, jobId);
  expect(job).toMatchObject({ status: 'SUCCEEDED', flowType: 'SFTP_TO_S3' });

  // Everything about the job, found by its id alone, as a search of the log group for it finds it.
  const logsOf = (all: ReturnType<typeof printedLines>) => all.filter((l) => !('_aws' in l) && JSON.stringify(l).includes(jobId));
  const succeededTask = (task: string) => (l: Line) => l.function_name === task && l.message === 'task succeeded';
  const lines = await printedUntil((all) => {
    const found = logsOf(all);
    return TASKS.every((task) => found.some(succeededTask(task))) ? found : undefined;
  }, jobId);

  // The API: the access line of POST /transfers names the job, the caller's customer and both request ids.
  const api = lines.find((l) => l.message === 'request' && l.route === '/transfers');
  expect(api).toMatchObject({
    level: 'INFO',
    service: 'eft',
    function_name: expect.stringContaining('createTransfers'),
    status: 201,
    jobIds: [jobId],
    jobId,
    customerId: 'customer-a',
    requestId: expect.any(String),
    apiRequestId: expect.any(String),
  });
  // The state machine's tasks: each with the execution (whose name is the job's id) and its own request id;
  // those whose input names the job, with the job and its customer.
  const executionId = lines.find((l) => l.function_name === 'startTransfer')?.executionId;
  expect(executionId).toEqual(expect.stringContaining(`:execution:`));
  for (const task of TASKS) {
    expect(lines.find(succeededTask(task))).toMatchObject({ executionId, requestId: expect.any(String) });
  }
  for (const task of ['startTransfer', 'verifyTransfer']) {
    expect(lines.find(succeededTask(task))).toMatchObject({ jobId, customerId: 'customer-a' });
  }
  // The worker (a process of its own, as an ECS task): its lines, its exit included, under the same execution.
  const worker = lines.filter((l) => l.fromWorker);
  expect(worker.map((l) => l.message)).toEqual(expect.arrayContaining(['transfer recorded', 'worker exit']));
  for (const line of worker) expect(line).toMatchObject({ service: 'eft-worker', jobId, customerId: 'customer-a', executionId });
  // Every line about the job is Powertools' structured format, with the job's id or its execution's.
  for (const line of lines) {
    expect(line).toMatchObject({ level: expect.any(String), message: expect.any(String), timestamp: expect.any(String) });
    expect(line.jobId === jobId || line.executionId === executionId || (line.jobIds as string[]).includes(jobId)).toBe(true);
  }

  // Metrics: EMF documents in the namespace eft, dimension service (and Flow), that name the job.
  const emf = await printedUntil((all) => {
    const docs = all.filter((l) => '_aws' in l && l.jobId === jobId);
    return docs.some((d) => 'JobsSucceeded' in d) && docs.some((d) => 'BytesMoved' in d && 'Flow' in d) ? docs : undefined;
  }, jobId);
  const succeeded = emf.find((d) => 'JobsSucceeded' in d) as unknown as Line & { _aws: { CloudWatchMetrics: unknown[] } };
  expect(succeeded).toMatchObject({ service: 'eft', JobsSucceeded: 1, BytesMoved: content.length, customerId: 'customer-a' });
  expect(succeeded._aws.CloudWatchMetrics).toEqual([expect.objectContaining({ Namespace: 'eft', Dimensions: [['service']] })]);
  expect(emf.find((d) => 'Flow' in d && 'BytesMoved' in d)).toMatchObject({ Flow: 'SFTP_TO_S3', BytesMoved: content.length });
  expect(emf.some((d) => 'LeaseWaitTime' in d)).toBe(true);
  expect(emf.some((d) => 'WorkerStartLatency' in d)).toBe(true);
}, 120_000);
