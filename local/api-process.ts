/**
 * One region's API, in its own process (like that region's Lambda containers):
 * the region's function environment is this process's environment before any
 * handler module is loaded. Started by stack.ts; prints {"url"} once listening.
 */
import './esm-only-packages';
import { startApiGateway } from './api-gateway';
import { loadServiceConfig, PROJECT_ROOT, type RegionFile } from './service-config';
import type { LocalPrincipal } from './sigv4';

interface ApiProcessOptions {
  regionFile: RegionFile;
  region: string;
  stage: string;
  environment: Record<string, string>;
  principals: LocalPrincipal[];
  port?: number;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as ApiProcessOptions;
  Object.assign(process.env, options.environment);
  const config = await loadServiceConfig(options.regionFile, options.stage);
  const api = await startApiGateway({
    config,
    region: options.region,
    principals: options.principals,
    root: PROJECT_ROOT,
    port: options.port,
  });
  process.stdout.write(`${JSON.stringify({ url: api.url })}\n`);
  const stop = () => void api.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

main().catch((error) => {
  process.stderr.write(`local API failed to start: ${(error as Error).stack}\n`);
  process.exit(1);
});
