import { StateMachine } from 'aws-local-stepfunctions';
import { loadServiceConfig } from '../../local/service-config';
import { prepareStateMachine } from '../../local/step-functions';

/**
 * The deployed state machine definition (statemachines/transfer.yml, as the
 * framework resolves it) run by the local interpreter with scripted task
 * results: every Choice branch, Retry and Catch.
 */
type Script = Record<string, (input: Record<string, unknown>) => unknown>;

const LEASE = { partitionId: 'c#s#t', executionId: 'exec', region: 'us-gov-west-1', epoch: 1 };
const START = { customerId: 'c', jobId: 'job_1' };

function named(name: string, message = name): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

let prepared: ReturnType<typeof prepareStateMachine>;
beforeAll(async () => {
  prepared = prepareStateMachine(await loadServiceConfig('west'), 'transfer', 'us-gov-west-1');
}, 60_000);

/** Runs the definition; every task is scripted (a missing script fails the test). Returns output and the calls made. */
async function run(script: Script, input: Record<string, unknown> = START) {
  const calls: Array<{ state: string; input: Record<string, unknown> }> = [];
  const handlers = Object.fromEntries(
    Object.keys(prepared.tasks).map((state) => [
      state,
      async (input: Record<string, unknown>) => {
        calls.push({ state, input });
        const step = script[state];
        if (!step) throw new Error(`unexpected task ${state}`);
        return step(input);
      },
    ]),
  );
  const retryIntervalOverrides = Object.fromEntries(Object.keys(prepared.tasks).map((state) => [state, 0]));
  const machine = new StateMachine(prepared.definition, { validationOptions: { checkArn: false } });
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
    context: { Execution: { Id: 'arn:aws-us-gov:states:us-gov-west-1:000000000000:execution:eft-local-transfer:job_1' } },
  });
  const outcome = await execution.result.then(
    (output) => ({ ok: true as const, output }),
    // The interpreter wraps the Fail state's error in an ExecutionError.
    (error: Error) => ({ ok: false as const, error: (error.cause as Error | undefined)?.name ?? error.name }),
  );
  return { ...outcome, states: calls.map((c) => c.state), calls };
}

/** StartTransfer's output; of the built-in drivers only S3's copies server-side, so only S3_TO_S3 is a copy. */
const started =
  (flowType: string, serverSideCopy = flowType === 'S3_TO_S3') =>
  () => ({ action: 'RUN', ...START, flowType, serverSideCopy, lease: LEASE, job: START });
const ok = () => ({});

describe('the transfer state machine', () => {
  it('runs S3→S3 through the copy, which verifies and ends the job itself, then releases the lease', async () => {
    const result = await run({ StartTransfer: started('S3_TO_S3'), CopyS3Object: ok, ReleaseLease: ok });
    expect(result.ok).toBe(true);
    expect(result.states).toEqual(['StartTransfer', 'CopyS3Object', 'ReleaseLease']);
    // The execution's input goes along whole: its partitionId and flowType spare StartTransfer a read.
    expect(result.calls[0]?.input).toEqual({ ...START, executionId: expect.stringContaining(':execution:'), input: START });
    expect(result.calls[1]?.input).toEqual(started('S3_TO_S3')());
    expect(result.calls[2]?.input).toEqual(LEASE);
  });

  it("hands StartTransfer's claimed job and the execution's endpoints on to the copy, and runs it without them", async () => {
    const endpoints = { source: { customerId: 'c', endpointId: 's' }, target: { customerId: 'c', endpointId: 't' } };
    const claimed = { ...START, status: 'RUNNING' };
    const handedOn = await run(
      { StartTransfer: () => ({ ...started('S3_TO_S3')(), claimed, endpoints }), CopyS3Object: ok, ReleaseLease: ok },
      { ...START, endpoints },
    );
    expect(handedOn.calls[0]?.input).toMatchObject({ input: { ...START, endpoints } });
    expect(handedOn.calls[1]?.input).toMatchObject({ ...START, lease: LEASE, claimed, endpoints });
    // An older StartTransfer's output, or a job too large to carry: no path that is absent fails the state.
    const without = await run({ StartTransfer: started('S3_TO_S3'), CopyS3Object: ok, ReleaseLease: ok });
    expect(without.ok).toBe(true);
    expect(without.calls[1]?.input).not.toHaveProperty('claimed');
  });

  it.each(['SFTP_TO_S3', 'S3_TO_SFTP', 'SFTP_TO_SFTP'])(
    'runs %s on the Fargate worker with the job and lease in its environment',
    async (flowType) => {
      const result = await run({ StartTransfer: started(flowType), RunWorker: ok, VerifyTransfer: ok, ReleaseLease: ok });
      expect(result.states).toEqual(['StartTransfer', 'RunWorker', 'VerifyTransfer', 'ReleaseLease']);
      const task = result.calls[1]?.input as {
        LaunchType: string;
        Overrides: { ContainerOverrides: Array<{ Name: string; Environment: unknown[] }> };
      };
      expect(task.LaunchType).toBe('FARGATE');
      expect(task.Overrides.ContainerOverrides[0]).toEqual({
        Name: 'worker',
        Environment: [
          { Name: 'EFT_JOB', Value: JSON.stringify(START) },
          { Name: 'EFT_LEASE', Value: JSON.stringify(LEASE) },
        ],
      });
    },
  );

  it('chooses the copy or the worker by serverSideCopy, not by the flow name', async () => {
    const copy = await run({ StartTransfer: started('X_TO_X', true), CopyS3Object: ok, ReleaseLease: ok });
    expect(copy.states).toEqual(['StartTransfer', 'CopyS3Object', 'ReleaseLease']);
    const worker = await run({ StartTransfer: started('S3_TO_S3', false), RunWorker: ok, VerifyTransfer: ok, ReleaseLease: ok });
    expect(worker.states).toEqual(['StartTransfer', 'RunWorker', 'VerifyTransfer', 'ReleaseLease']);
  });

  it('skips a job that is already finished without touching the data plane', async () => {
    const result = await run({ StartTransfer: () => ({ action: 'SKIP', ...START, reason: 'job is already SUCCEEDED' }) });
    expect(result.ok).toBe(true);
    expect(result.states).toEqual(['StartTransfer']);
  });

  it('goes straight to verification for a job taken over after its data was delivered', async () => {
    const result = await run({
      StartTransfer: () => ({ action: 'VERIFY', ...START, flowType: 'S3_TO_S3', serverSideCopy: true, lease: LEASE, job: START }),
      VerifyTransfer: ok,
      ReleaseLease: ok,
    });
    expect(result.states).toEqual(['StartTransfer', 'VerifyTransfer', 'ReleaseLease']);
  });

  it('waits while the other region holds the lease, then runs', async () => {
    let attempts = 0;
    const result = await run({
      StartTransfer: () => {
        if (++attempts < 4) throw named('LeaseHeldError', 'partition lease is held by us-gov-east-1');
        return started('S3_TO_S3')();
      },
      CopyS3Object: ok,
      ReleaseLease: ok,
    });
    expect(result.ok).toBe(true);
    expect(result.states.filter((s) => s === 'StartTransfer')).toHaveLength(4);
  });

  it('defers a job whose partition stays held, without failing it (the reconciler starts it later)', async () => {
    const result = await run({
      StartTransfer: () => {
        throw named('LeaseHeldError');
      },
      FailTransfer: ok,
    });
    expect(result.ok).toBe(true);
    expect(result.states).toEqual(['StartTransfer', 'StartTransfer', 'StartTransfer', 'StartTransfer']);
  });

  it('retries a transient copy failure and then succeeds', async () => {
    let copies = 0;
    const result = await run({
      StartTransfer: started('S3_TO_S3'),
      CopyS3Object: () => {
        if (++copies < 3) throw named('TransientError', 'S3 said SlowDown');
        return {};
      },
      ReleaseLease: ok,
    });
    expect(result.ok).toBe(true);
    expect(copies).toBe(3);
  });

  it('does not retry a permanent copy failure: it fails the job with the error and the lease', async () => {
    const result = await run({
      StartTransfer: started('S3_TO_S3'),
      CopyS3Object: () => {
        throw named('TargetExistsError', 'a different object is already at the target');
      },
      FailTransfer: ok,
    });
    expect(result).toMatchObject({ ok: false, error: 'TransferFailed' });
    expect(result.states).toEqual(['StartTransfer', 'CopyS3Object', 'FailTransfer']);
    expect(result.calls[2]?.input).toMatchObject({
      lease: LEASE,
      error: { Error: 'TargetExistsError', Cause: 'a different object is already at the target' },
    });
  });

  it('fails the job when the worker task fails', async () => {
    const result = await run({
      StartTransfer: started('SFTP_TO_S3'),
      RunWorker: () => {
        throw named('States.TaskFailed', '{"StopCode":"EssentialContainerExited"}');
      },
      FailTransfer: ok,
    });
    expect(result.states).toEqual(['StartTransfer', 'RunWorker', 'FailTransfer']);
    expect(result.calls[2]?.input).toMatchObject({ error: { Error: 'States.TaskFailed' } });
  });

  it('fails the job when verification finds a mismatch', async () => {
    const result = await run({
      StartTransfer: started('SFTP_TO_S3'),
      RunWorker: ok,
      VerifyTransfer: () => {
        throw named('VerificationError', 'holds 10 bytes, 12 were delivered');
      },
      FailTransfer: ok,
    });
    expect(result.states).toEqual(['StartTransfer', 'RunWorker', 'VerifyTransfer', 'FailTransfer']);
    expect(result.ok).toBe(false);
  });

  it('still succeeds when the lease cannot be released (it expires)', async () => {
    const result = await run({
      StartTransfer: started('S3_TO_S3'),
      CopyS3Object: ok,
      ReleaseLease: () => {
        throw named('StaleOwnerError');
      },
    });
    expect(result.ok).toBe(true);
  });
});

describe('the transfer state machine, for a batch of small files', () => {
  const BATCH = { customerId: 'c', batchId: 'batch_1', jobIds: ['job_1', 'job_2', 'job_3'] };
  const EXECUTION = 'arn:aws-us-gov:states:us-gov-west-1:000000000000:execution:eft-local-transfer:job_1';

  it('takes the lease, runs one worker task for the batch, and releases the lease', async () => {
    const result = await run({ StartBatch: () => LEASE, RunBatchWorker: ok, ReleaseLease: ok }, BATCH);
    expect(result.ok).toBe(true);
    expect(result.states).toEqual(['StartBatch', 'RunBatchWorker', 'ReleaseLease']);
    expect(result.calls[0]?.input).toEqual({ ...BATCH, executionId: EXECUTION });
    // The job ids stay in the execution's input (the worker reads them there), never in the 8 KiB of overrides.
    const task = result.calls[1]?.input as { Overrides: { ContainerOverrides: Array<{ Environment: unknown[] }> } };
    expect(task.Overrides.ContainerOverrides[0]?.Environment).toEqual([
      { Name: 'EFT_BATCH_EXECUTION', Value: EXECUTION },
      { Name: 'EFT_LEASE', Value: JSON.stringify(LEASE) },
    ]);
    expect(result.calls[2]?.input).toEqual(LEASE);
  });

  it('ends without a worker when there is nothing to run', async () => {
    const result = await run({ StartBatch: () => null }, BATCH);
    expect(result.ok).toBe(true);
    expect(result.states).toEqual(['StartBatch']);
  });

  it('waits while the other region holds the lease, then runs the batch', async () => {
    let attempts = 0;
    const result = await run(
      {
        StartBatch: () => {
          if (++attempts < 3) throw named('LeaseHeldError');
          return LEASE;
        },
        RunBatchWorker: ok,
        ReleaseLease: ok,
      },
      BATCH,
    );
    expect(result.ok).toBe(true);
    expect(result.states).toEqual(['StartBatch', 'StartBatch', 'StartBatch', 'RunBatchWorker', 'ReleaseLease']);
  });

  it('fails the unfinished jobs of the batch, with the lease, when its worker fails', async () => {
    const result = await run(
      {
        StartBatch: () => LEASE,
        RunBatchWorker: () => {
          throw named('States.TaskFailed', 'EssentialContainerExited');
        },
        FailBatch: ok,
      },
      BATCH,
    );
    expect(result).toMatchObject({ ok: false, error: 'TransferFailed' });
    expect(result.states).toEqual(['StartBatch', 'RunBatchWorker', 'FailBatch']);
    expect(result.calls[2]?.input).toEqual({
      ...BATCH,
      lease: LEASE,
      error: { Error: 'States.TaskFailed', Cause: 'EssentialContainerExited' },
    });
  });

  it('defers a batch whose partition stays held: its jobs stay QUEUED, nothing is failed', async () => {
    const result = await run(
      {
        StartBatch: () => {
          throw named('LeaseHeldError');
        },
        FailBatch: ok,
      },
      BATCH,
    );
    expect(result.ok).toBe(true);
    expect(result.states).toEqual(['StartBatch', 'StartBatch', 'StartBatch', 'StartBatch']);
  });

  it('fails the batch without a lease when taking it fails otherwise', async () => {
    const result = await run(
      {
        StartBatch: () => {
          throw named('ValidationError', 'no such job');
        },
        FailBatch: ok,
      },
      BATCH,
    );
    expect(result).toMatchObject({ ok: false, error: 'TransferFailed' });
    expect(result.calls.at(-1)?.input).toEqual({ ...BATCH, error: { Error: 'ValidationError', Cause: 'no such job' } });
  });
});

describe('the transfer state machine, for a single small file (the fast path)', () => {
  /** The stage's smallFileThresholdBytes as the definition holds it (serverless.region-common.yml). */
  const THRESHOLD = 16 * 1024 * 1024;
  const sized = (flowType: string, bytesTotal: number) => () => ({ ...started(flowType)(), bytesTotal });

  it.each(['SFTP_TO_S3', 'S3_TO_SFTP', 'SFTP_TO_SFTP'])(
    'runs a %s file up to the threshold in the function, with the job and lease, then verifies',
    async (flowType) => {
      const result = await run({
        StartTransfer: sized(flowType, THRESHOLD),
        RunSmallTransfer: ok,
        VerifyTransfer: ok,
        ReleaseLease: ok,
      });
      expect(result.ok).toBe(true);
      expect(result.states).toEqual(['StartTransfer', 'RunSmallTransfer', 'VerifyTransfer', 'ReleaseLease']);
      expect(result.calls[1]?.input).toEqual({ ...START, lease: LEASE });
    },
  );

  it('sends a file above the threshold, or of unknown size, to the worker', async () => {
    for (const step of [sized('SFTP_TO_S3', THRESHOLD + 1), started('SFTP_TO_S3')]) {
      const result = await run({ StartTransfer: step, RunWorker: ok, VerifyTransfer: ok, ReleaseLease: ok });
      expect(result.states).toEqual(['StartTransfer', 'RunWorker', 'VerifyTransfer', 'ReleaseLease']);
    }
  });

  it('keeps a small server-side copy a copy', async () => {
    const result = await run({ StartTransfer: sized('S3_TO_S3', 10), CopyS3Object: ok, ReleaseLease: ok });
    expect(result.states).toEqual(['StartTransfer', 'CopyS3Object', 'ReleaseLease']);
  });

  it.each(['FastPathDeadlineError', 'Lambda.Unknown', 'Sandbox.Timedout', 'Lambda.ServiceException'])(
    'hands the job to the worker, under the same lease, when the function ends with %s',
    async (error) => {
      const result = await run({
        StartTransfer: sized('SFTP_TO_S3', 1024),
        RunSmallTransfer: () => {
          throw named(error);
        },
        RunWorker: ok,
        VerifyTransfer: ok,
        ReleaseLease: ok,
      });
      expect(result.ok).toBe(true);
      expect(result.states).toEqual(['StartTransfer', 'RunSmallTransfer', 'RunWorker', 'VerifyTransfer', 'ReleaseLease']);
      const task = result.calls[2]?.input as { Overrides: { ContainerOverrides: Array<{ Environment: unknown[] }> } };
      expect(task.Overrides.ContainerOverrides[0]?.Environment).toEqual([
        { Name: 'EFT_JOB', Value: JSON.stringify(START) },
        { Name: 'EFT_LEASE', Value: JSON.stringify(LEASE) },
      ]);
    },
  );

  it('retries a throttled invocation (the function did not run), then runs it', async () => {
    let invocations = 0;
    const result = await run({
      StartTransfer: sized('SFTP_TO_S3', 1024),
      RunSmallTransfer: () => {
        if (++invocations < 3) throw named('Lambda.TooManyRequestsException');
        return {};
      },
      VerifyTransfer: ok,
      ReleaseLease: ok,
    });
    expect(result.ok).toBe(true);
    expect(invocations).toBe(3);
  });

  it.each(['LeaseLostError', 'TransferError'])(
    'goes to FailTransfer with the error and the lease when the function ends with %s (as the worker does)',
    async (error) => {
      const result = await run({
        StartTransfer: sized('S3_TO_SFTP', 1024),
        RunSmallTransfer: () => {
          throw named(error, 'the reason');
        },
        FailTransfer: ok,
      });
      expect(result.states).toEqual(['StartTransfer', 'RunSmallTransfer', 'FailTransfer']);
      expect(result.calls[2]?.input).toMatchObject({ lease: LEASE, error: { Error: error, Cause: 'the reason' } });
    },
  );
});
