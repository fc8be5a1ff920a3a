import type { Context } from 'aws-lambda';
import type { TransferJob } from '../../core/domain/job';
import { jobEnded, type Measurement, type Metrics } from '../../core/domain/metrics';
import type { JobStore } from '../../core/domain/ports';
import { appendCorrelationKeys, withCorrelationKeys, withInvocationLogger } from '../../core/observability/invocation';
import { withJobMetrics } from '../../core/observability/job-metrics';
import { createLogger, logger, REDACTED } from '../../core/observability/logger';
import { powertoolsMetrics } from '../../core/observability/metrics';

type Line = Record<string, unknown>;

/** A logger on Powertools whose lines are collected (parsed) instead of written to stdout. */
function collecting(context: Record<string, unknown> = {}) {
  const lines: Line[] = [];
  return { lines, log: createLogger(context, (line) => lines.push(JSON.parse(line))) };
}

const lambdaContext = (awsRequestId: string, functionName = 'eft-dev-startTransfer') =>
  ({ awsRequestId, functionName }) as Context;

describe('the Powertools logger adapter', () => {
  it("writes Powertools' structured lines: level, message, timestamp, service, then the entry's fields", () => {
    const { lines, log } = collecting({ service: 'eft-worker', jobId: 'job_1' });

    log.warn('lease renewal failed', { silentForMs: 1200 });

    expect(lines).toEqual([
      {
        level: 'WARN',
        message: 'lease renewal failed',
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        service: 'eft-worker',
        jobId: 'job_1',
        silentForMs: 1200,
      },
    ]);
  });

  it('redacts every secret-looking field, however deep, in the entry and in the keys it was given', () => {
    const { lines, log } = collecting({ credentials: { password: 'p@ss-in-context' } });

    log.error('could not connect', {
      endpoint: { sftp: { host: 'partner.example', password: 'hunter2' }, privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----' },
      headers: [{ Authorization: 'AWS4-HMAC-SHA256 Signature=abc' }],
      sessionToken: 'IQoJb3JpZ2luX2Vj',
      error: Object.assign(new Error('auth failed'), { code: 'AUTH_FAILED' }),
    });

    const written = JSON.stringify(lines);
    for (const secret of ['p@ss-in-context', 'hunter2', 'PRIVATE KEY', 'Signature=abc', 'IQoJb3JpZ2luX2Vj']) {
      expect(written).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({
      credentials: REDACTED,
      endpoint: { sftp: { host: 'partner.example', password: REDACTED }, privateKey: REDACTED },
      headers: [{ Authorization: REDACTED }],
      sessionToken: REDACTED,
      error: { name: 'Error', message: 'auth failed', code: 'AUTH_FAILED' },
    });
  });
});

describe('an invocation and its correlation keys', () => {
  it('puts the Lambda context, the request id and the keys of the event on every line, the domain logger’s too', async () => {
    const { lines, log } = collecting();
    const handler = withInvocationLogger<{ jobId: string }, string>(
      async (_event, _context, own) => {
        own.info('task started');
        // What a domain dependency holds: the process's logger, which follows the invocation.
        logger.info('lease taken', { epoch: 3 });
        return 'done';
      },
      (event) => ({ jobId: event.jobId, customerId: 'c1', executionId: 'arn:exec:1' }),
      log,
    );

    // A function of its own: cold_start is per function and process.
    await handler({ jobId: 'job_1' }, lambdaContext('req-1', 'eft-dev-coldStartProbe'));
    await handler({ jobId: 'job_2' }, lambdaContext('req-2', 'eft-dev-coldStartProbe'));

    expect(lines.map((l) => [l.message, l.jobId, l.requestId, l.cold_start])).toEqual([
      ['task started', 'job_1', 'req-1', true],
      ['lease taken', 'job_1', 'req-1', true],
      ['task started', 'job_2', 'req-2', false],
      ['lease taken', 'job_2', 'req-2', false],
    ]);
    for (const line of lines) {
      expect(line).toMatchObject({ function_name: 'eft-dev-coldStartProbe', customerId: 'c1', executionId: 'arn:exec:1' });
      expect(line.function_request_id).toBe(line.requestId);
    }
  });

  it('keeps overlapping invocations apart (the local runtime runs them in one process)', async () => {
    const { lines, log } = collecting();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handler = withInvocationLogger<{ jobId: string; wait: boolean }, void>(
      async (event) => {
        if (event.wait) await gate;
        logger.info('step', { step: event.jobId });
      },
      (event) => ({ jobId: event.jobId }),
      log,
    );

    const first = handler({ jobId: 'job_a', wait: true }, lambdaContext('req-a'));
    await handler({ jobId: 'job_b', wait: false }, lambdaContext('req-b'));
    release();
    await first;

    expect(lines.map((l) => [l.step, l.jobId, l.requestId])).toEqual([
      ['job_b', 'job_b', 'req-b'],
      ['job_a', 'job_a', 'req-a'],
    ]);
  });

  it('adds keys learnt while handling (a created job’s id) to the later lines of that invocation only', async () => {
    const { lines, log } = collecting();
    const handler = withInvocationLogger<{ create: boolean }, void>(
      async (event) => {
        if (event.create) appendCorrelationKeys({ jobId: 'job_new' });
        await withCorrelationKeys({ messageId: 'm-1' }, async () => logger.info('message handled'));
        logger.info('request');
      },
      () => ({}),
      log,
    );

    await handler({ create: true }, lambdaContext('req-1'));
    await handler({ create: false }, lambdaContext('req-2'));

    expect(lines.map((l) => [l.message, l.jobId, l.messageId, l.requestId])).toEqual([
      ['message handled', 'job_new', 'm-1', 'req-1'],
      ['request', 'job_new', undefined, 'req-1'],
      ['message handled', undefined, 'm-1', 'req-2'],
      ['request', undefined, undefined, 'req-2'],
    ]);
  });

  it('keeps the keys of each message of a batch, and those learnt while handling it, to that message’s lines', async () => {
    const { lines, log } = collecting();
    const handler = withInvocationLogger<{ messages: string[] }, void>(
      async (event) => {
        await Promise.all(
          event.messages.map((messageId) =>
            withCorrelationKeys({ messageId }, async () => {
              await withCorrelationKeys({ attempt: 1 }, async () => logger.info('nested'));
              appendCorrelationKeys({ jobId: `job_${messageId}` });
              await Promise.resolve();
              logger.info('handled', { messageId: `${messageId}-own` });
            }),
          ),
        );
        logger.info('batch done');
      },
      () => ({}),
      log,
    );

    await handler({ messages: ['m-1', 'm-2'] }, lambdaContext('req-1'));

    expect(lines.map((l) => [l.message, l.messageId, l.attempt, l.jobId, l.requestId])).toEqual([
      ['nested', 'm-1', 1, undefined, 'req-1'],
      ['nested', 'm-2', 1, undefined, 'req-1'],
      // A line's own field wins over the message's key.
      ['handled', 'm-1-own', undefined, 'job_m-1', 'req-1'],
      ['handled', 'm-2-own', undefined, 'job_m-2', 'req-1'],
      ['batch done', undefined, undefined, undefined, 'req-1'],
    ]);
  });
});

const JOB: TransferJob = {
  jobId: 'job_1',
  customerId: 'c1',
  flowType: 'SFTP_TO_S3',
  sourceEndpointId: 'ep_a',
  sourcePath: 'a.csv',
  targetEndpointId: 'ep_b',
  targetPath: 'a.csv',
  partitionId: 'c1#ep_a#ep_b',
  idempotencyKey: 'k',
  requestFingerprint: 'f',
  status: 'SUCCEEDED',
  attempts: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  startedAt: '2026-01-01T00:00:01.000Z',
  completedAt: '2026-01-01T00:00:05.000Z',
  updatedAt: '2026-01-01T00:00:05.000Z',
  transitions: [
    { status: 'RECEIVED', at: '2026-01-01T00:00:00.000Z', region: 'us-gov-west-1', actor: 'x' },
    { status: 'QUEUED', at: '2026-01-01T00:00:00.000Z', region: 'us-gov-west-1', actor: 'x' },
    { status: 'RUNNING', at: '2026-01-01T00:00:01.000Z', region: 'us-gov-west-1', actor: 'x' },
  ],
  result: { bytes: 8000, location: 's3://b/a.csv', alreadyPresent: false },
};

describe('metrics', () => {
  it('publishes EMF in the namespace eft, under {service} and, broken down, under {service, Flow}, with the ids as properties', () => {
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      powertoolsMetrics().publish(jobEnded(JOB), { jobId: 'job_1', customerId: 'c1' });
    } finally {
      spy.mockRestore();
    }

    const docs = written.map((w) => JSON.parse(w) as Line & { _aws: { CloudWatchMetrics: Line[] } });
    expect(docs).toHaveLength(2);
    expect(docs[0]).toMatchObject({ service: 'eft', jobId: 'job_1', JobsSucceeded: 1, JobDuration: 5000, BytesMoved: 8000 });
    expect(docs[0]?.Throughput).toBe(2000);
    expect(docs[0]?._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'eft',
        Dimensions: [['service']],
        Metrics: [
          { Name: 'JobsSucceeded', Unit: 'Count' },
          { Name: 'JobDuration', Unit: 'Milliseconds' },
          { Name: 'BytesMoved', Unit: 'Bytes' },
          { Name: 'Throughput', Unit: 'Bytes/Second' },
        ],
      },
    ]);
    expect(docs[1]).toMatchObject({ service: 'eft', Flow: 'SFTP_TO_S3', BytesMoved: 8000, JobDuration: 5000 });
    expect(docs[1]?._aws.CloudWatchMetrics[0]).toMatchObject({ Dimensions: [['service', 'Flow']] });
    expect(docs[1]).not.toHaveProperty('JobsSucceeded');
  });

  it('publishes each document on its own: no dimension, id or measurement of one reaches the next', () => {
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const metrics = powertoolsMetrics();
    try {
      metrics.publish(jobEnded(JOB), { jobId: 'job_1', customerId: 'c1' });
      metrics.publish([{ name: 'Takeovers', value: 1 }], { jobId: 'job_2' });
      metrics.publish([{ name: 'Takeovers', value: 1 }], { customerId: 'c3' });
      metrics.publish([{ name: 'Takeovers', value: 2 }], {});
    } finally {
      spy.mockRestore();
    }

    const docs = written.map((w) => JSON.parse(w) as Line & { _aws: { CloudWatchMetrics: Line[] } });
    const takeovers = docs.filter((doc) => 'Takeovers' in doc);
    expect(takeovers.map((doc) => [doc.Takeovers, doc.jobId, doc.customerId])).toEqual([
      [1, 'job_2', undefined],
      [1, undefined, 'c3'],
      [2, undefined, undefined],
    ]);
    for (const doc of takeovers) {
      expect(doc).not.toHaveProperty('Flow');
      expect(doc).not.toHaveProperty('JobsSucceeded');
      expect(doc._aws.CloudWatchMetrics).toEqual([
        { Namespace: 'eft', Dimensions: [['service']], Metrics: [{ Name: 'Takeovers', Unit: 'Count' }] },
      ]);
    }
  });

  it('counts a failed job by its error code, and a delivery that found the content already there as no bytes moved', () => {
    expect(jobEnded({ ...JOB, status: 'FAILED', errorCode: 'AUTH_FAILED', result: undefined })).toEqual([
      { name: 'JobsFailed', value: 1, by: { ErrorCode: 'AUTH_FAILED' } },
      { name: 'JobDuration', value: 5000, by: { Flow: 'SFTP_TO_S3' } },
    ]);
    const present = jobEnded({ ...JOB, result: { ...JOB.result, alreadyPresent: true } as TransferJob['result'] });
    expect(present.find((m) => m.name === 'BytesMoved')?.value).toBe(0);
    expect(jobEnded({ ...JOB, status: 'VERIFYING' })).toEqual([]);
  });

  it('measures each committed change of a job once: started (lease wait), ended, taken over', async () => {
    const published: Array<{ measurements: readonly Measurement[]; about?: Record<string, string> }> = [];
    const collect: Metrics = { publish: (measurements, about) => published.push({ measurements, about }) };
    const running = { ...JOB, status: 'RUNNING' as const, result: undefined, completedAt: undefined };
    const store = {
      transition: async (_key: unknown, to: string) => (to === 'RUNNING' ? running : JOB),
      resume: async () => running,
      get: async () => JOB,
    } as unknown as JobStore;
    const jobs = withJobMetrics(store, collect);

    await jobs.transition(JOB, 'RUNNING', { actor: 'x', region: 'r' });
    await jobs.transition(JOB, 'SUCCEEDED', { actor: 'x', region: 'r' });
    await jobs.resume(JOB, { partitionId: 'p', executionId: 'e', region: 'r', epoch: 2 }, 'x');
    await jobs.get(JOB);

    expect(published.map((p) => p.measurements.map((m) => m.name))).toEqual([
      ['LeaseWaitTime'],
      ['JobsSucceeded', 'JobDuration', 'BytesMoved', 'Throughput'],
      ['Takeovers'],
    ]);
    expect(published[0]?.measurements[0]?.value).toBe(1000);
    for (const p of published) expect(p.about).toEqual({ jobId: 'job_1', customerId: 'c1' });
  });
});
