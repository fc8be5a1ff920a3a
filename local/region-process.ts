/**
 * One service of one region of the local engine, in its own process (like that
 * region's Lambda containers): the region's function environment is this
 * process's environment before any handler module is loaded. The role, the
 * process's only argument (so `ps` tells the processes apart), is either
 * - `step-functions`: the region's Step Functions endpoint, which runs the
 *   state machine's Lambda tasks in this process; it prints {"stepFunctions"}
 *   once listening; or
 * - `api`: the region's REST API (API Gateway and the API handlers), whose
 *   StartExecution calls go to the step-functions process (AWS_ENDPOINT_URL_SFN
 *   in its environment); it prints {"api"} once listening.
 * As in AWS, where API Gateway/Lambda and Step Functions are separate services,
 * the executions of created jobs do not share the API's event loop, so the
 * API's latency is the API's. Both load the same handler modules. Started by stack.ts.
 */
import './esm-only-packages';
import { startApiGateway } from './api-gateway';
import { loadServiceConfig, PROJECT_ROOT, type RegionFile } from './service-config';
import type { LocalPrincipal } from './sigv4';
import { startStepFunctions } from './step-functions';

export type RegionRole = 'api' | 'step-functions';

export interface RegionProcessOptions {
  regionFile: RegionFile;
  region: string;
  stage: string;
  environment: Record<string, string>;
  principals: LocalPrincipal[];
}

async function main(): Promise<void> {
  const role = process.argv[2] as RegionRole;
  const options = JSON.parse(process.env.EFT_CHILD_OPTIONS ?? '{}') as RegionProcessOptions;
  delete process.env.EFT_CHILD_OPTIONS;
  Object.assign(process.env, options.environment);
  const config = await loadServiceConfig(options.regionFile, options.stage);
  let service: { url: string; close(): Promise<void> };
  if (role === 'step-functions') {
    service = await startStepFunctions({
      config,
      region: options.region,
      root: PROJECT_ROOT,
      onLine: (line) => process.stdout.write(`${line}\n`),
    });
    // What this process starts reaches this endpoint too: a batch's worker reads its execution's input.
    process.env.AWS_ENDPOINT_URL_SFN = service.url;
    process.stdout.write(`${JSON.stringify({ stepFunctions: service.url })}\n`);
  } else if (role === 'api') {
    service = await startApiGateway({ config, region: options.region, principals: options.principals, root: PROJECT_ROOT });
    process.stdout.write(`${JSON.stringify({ api: service.url })}\n`);
  } else {
    throw new Error(`unknown role ${role}: api or step-functions`);
  }
  const stop = () => void service.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

main().catch((error) => {
  process.stderr.write(`local region failed to start: ${(error as Error).stack}\n`);
  process.exit(1);
});
