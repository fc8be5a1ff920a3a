/**
 * One region of the local engine, in its own process (like that region's
 * Lambda containers): the region's function environment is this process's
 * environment before any handler module is loaded. It serves the region's REST
 * API and its Step Functions endpoint, and prints {"api","stepFunctions"} once
 * listening. Started by stack.ts.
 */
import './esm-only-packages';
import { startApiGateway } from './api-gateway';
import { loadServiceConfig, PROJECT_ROOT, type RegionFile } from './service-config';
import type { LocalPrincipal } from './sigv4';
import { startStepFunctions } from './step-functions';

interface RegionProcessOptions {
  regionFile: RegionFile;
  region: string;
  stage: string;
  environment: Record<string, string>;
  principals: LocalPrincipal[];
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.EFT_CHILD_OPTIONS ?? '{}') as RegionProcessOptions;
  delete process.env.EFT_CHILD_OPTIONS;
  Object.assign(process.env, options.environment);
  const config = await loadServiceConfig(options.regionFile, options.stage);
  const stepFunctions = await startStepFunctions({
    config,
    region: options.region,
    root: PROJECT_ROOT,
    onLine: (line) => process.stdout.write(`${line}\n`),
  });
  // Handlers load lazily, on their first call, so they see this endpoint.
  process.env.AWS_ENDPOINT_URL_SFN = stepFunctions.url;
  const api = await startApiGateway({ config, region: options.region, principals: options.principals, root: PROJECT_ROOT });
  process.stdout.write(`${JSON.stringify({ api: api.url, stepFunctions: stepFunctions.url })}\n`);
  const stop = () => void Promise.all([api.close(), stepFunctions.close()]).finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

main().catch((error) => {
  process.stderr.write(`local region failed to start: ${(error as Error).stack}\n`);
  process.exit(1);
});
