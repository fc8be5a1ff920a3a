import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const PROJECT_ROOT = join(__dirname, '..');
export type RegionFile = 'west' | 'east';

/** The resolved service definition as the Serverless Framework prints it. */
export interface ServiceConfig {
  service: string;
  provider: { region: string; stage: string; environment?: Record<string, unknown> };
  functions: Record<
    string,
    { handler: string; events?: Array<Record<string, unknown>>; environment?: Record<string, unknown>; timeout?: number }
  >;
  resources: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
  stepFunctions?: { stateMachines?: Record<string, { definition: unknown; name?: string }> };
  custom?: Record<string, unknown>;
}

async function configFiles(): Promise<string[]> {
  const files = (await readdir(PROJECT_ROOT)).filter((f) => /^serverless.*\.yml$/.test(f));
  for (const dir of ['functions', 'resources', 'statemachines']) {
    const entries = await readdir(join(PROJECT_ROOT, dir)).catch(() => [] as string[]);
    files.push(...entries.filter((f) => f.endsWith('.yml')).map((f) => join(dir, f)));
  }
  return files.sort();
}

/**
 * Loads serverless.<region>.yml resolved by the framework itself (`osls print`),
 * so the local runtime reads the same functions, events, environment, tables and
 * state machines that are deployed, with every ${...} variable resolved. The
 * result is cached under .eft/ by a hash of the YAML files, since printing takes
 * a few seconds.
 */
export async function loadServiceConfig(region: RegionFile, stage = 'local'): Promise<ServiceConfig> {
  const hash = createHash('sha256');
  for (const file of await configFiles()) hash.update(file).update(await readFile(join(PROJECT_ROOT, file)));
  const cacheFile = join(PROJECT_ROOT, '.eft', 'cache', `service-${region}-${stage}-${hash.digest('hex').slice(0, 16)}.json`);
  try {
    return JSON.parse(await readFile(cacheFile, 'utf8')) as ServiceConfig;
  } catch {
    // not cached yet
  }
  const osls = join(PROJECT_ROOT, 'node_modules', '.bin', 'osls');
  const { stdout } = await promisify(execFile)(
    osls,
    ['print', '--format', 'json', '--config', `serverless.${region}.yml`, '--stage', stage],
    { cwd: PROJECT_ROOT, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' } },
  );
  const config = JSON.parse(stdout.slice(stdout.indexOf('{'))) as ServiceConfig;
  await mkdir(join(PROJECT_ROOT, '.eft', 'cache'), { recursive: true });
  await writeFile(cacheFile, JSON.stringify(config));
  return config;
}
