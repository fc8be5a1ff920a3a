import { DescribeExecutionCommand, ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { BatchInput, ExecutionJob, ExecutionOptions, ExecutionStarter } from '../domain/ports';
import { awsClientConfig, engineClient } from './aws-client-config';

/** One Step Functions client per starter or reader, built from the function's environment. */
export function createSfnClient(env: NodeJS.ProcessEnv): SFNClient {
  return engineClient(new SFNClient(awsClientConfig('SFN', env)));
}

/**
 * Starts one execution per job, named by the job id, or per batch of small
 * files, named by the batch id: Step Functions refuses a second execution of
 * a name (for 90 days), one more guard against running a job twice in a region.
 */
export class StepFunctionsStarter implements ExecutionStarter {
  private readonly client: SFNClient;

  constructor(
    env: NodeJS.ProcessEnv,
    private readonly stateMachineArn: string,
  ) {
    this.client = createSfnClient(env);
  }

  start(job: ExecutionJob, options: ExecutionOptions = {}): Promise<void> {
    const { customerId, jobId, partitionId, flowType, endpoints } = job;
    return this.startExecution(options.name ?? jobId, { customerId, jobId, partitionId, flowType, endpoints });
  }

  /** A batch of small files: named by the batch id, which is derived from its jobs. */
  startBatch(batch: BatchInput, options: ExecutionOptions = {}): Promise<void> {
    return this.startExecution(options.name ?? batch.batchId, batch);
  }

  private async startExecution(name: string, input: object): Promise<void> {
    try {
      await this.client.send(
        new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }),
      );
    } catch (error) {
      // Already started (a retried request, a replayed event): that execution runs the job.
      if (!(error instanceof ExecutionAlreadyExists)) throw error;
    }
  }
}

/** The input an execution was started with (a batch worker reads its job ids from it). */
export class ExecutionInputReader {
  private readonly client: SFNClient;

  constructor(env: NodeJS.ProcessEnv) {
    this.client = createSfnClient(env);
  }

  async read(executionArn: string): Promise<string> {
    const execution = await this.client.send(new DescribeExecutionCommand({ executionArn }));
    return execution.input ?? '{}';
  }
}
