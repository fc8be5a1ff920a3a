import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { JobKey } from '../domain/ports';
import type { ExecutionStarter } from '../transfers/service';
import { awsClientConfig, withoutSdkLogging } from './aws-client-config';

/**
 * Starts one execution per job, named by the job id: Step Functions refuses a
 * second execution of that name (for 90 days), one more guard against running
 * a job twice in a region.
 */
export class StepFunctionsStarter implements ExecutionStarter {
  private readonly client: SFNClient;

  constructor(
    env: NodeJS.ProcessEnv,
    private readonly stateMachineArn: string,
  ) {
    this.client = withoutSdkLogging(new SFNClient(awsClientConfig('SFN', env)));
  }

  async start(job: JobKey): Promise<void> {
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: job.jobId,
          input: JSON.stringify({ customerId: job.customerId, jobId: job.jobId }),
        }),
      );
    } catch (error) {
      // Already started (a retried request, a replayed event): that execution runs the job.
      if (!(error instanceof ExecutionAlreadyExists)) throw error;
    }
  }
}
