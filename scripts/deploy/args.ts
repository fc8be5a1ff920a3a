/**
 * The command lines of `npm run deploy` and `npm run remove`, parsed and checked before anything runs: an
 * unknown option, a missing stage or a bad network value stops the script with every problem listed.
 */
import { parseArgs } from 'node:util';
import {
  checkNetwork,
  type ExistingNetwork,
  egressIpsOption,
  type NetworkChoice,
  securityGroupsOption,
  splitList,
  subnetsOption,
} from './network';
import { REGION_KEYS, type RegionKey } from './regions';

export interface DeployOptions {
  stage: string;
  /** The regions to deploy, in the order of REGION_KEYS; the plan orders them (plan.ts). */
  regions: RegionKey[];
  dryRun: boolean;
  network: NetworkChoice;
  /** Dry run only: plan the first deploy of the stage (a real run asks CloudFormation which stacks exist). */
  firstDeploy: boolean;
}

export interface RemoveOptions {
  stage: string;
  regions: RegionKey[];
  dryRun: boolean;
}

/** A refused command line: every problem, one per line. */
export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'UsageError';
  }
}

export const DEPLOY_USAGE = `npm run deploy -- --stage <stage> [--region west|east] [--dry-run|--noDeploy]
    [--vpc create]                                   a VPC per region stack with NAT gateways (the default)
    [--vpc existing --west-subnets subnet-…,subnet-… --west-security-groups sg-… --west-egress-ips 198.18.0.1,…
                    --east-subnets … --east-security-groups … --east-egress-ips …]   your own VPCs
    [--first-deploy]                                 with --dry-run: show the first deploy of a stage (3 steps)`;

export const REMOVE_USAGE = 'npm run remove -- --stage <stage> [--region west|east] [--dry-run|--noDeploy]';

/** Lowercase, as it goes into bucket, table and repository names (eft-<stage>-…). */
const STAGE = /^[a-z][a-z0-9-]{0,19}$/;

function checkStage(stage: string | undefined, problems: string[]): string {
  if (stage === undefined) problems.push('--stage is required');
  else if (!STAGE.test(stage) || stage.endsWith('-')) {
    problems.push(`--stage: ${stage} must be lowercase letters, digits and hyphens, starting with a letter (at most 20)`);
  }
  return stage ?? '';
}

function checkRegions(region: string | undefined, problems: string[]): RegionKey[] {
  if (region === undefined) return [...REGION_KEYS];
  if ((REGION_KEYS as string[]).includes(region)) return [region as RegionKey];
  problems.push(`--region: ${region} is neither west nor east`);
  return [];
}

/** parseArgs, with its own errors (unknown option, missing value) turned into a UsageError. */
type OptionSpec = Record<string, { type: 'string' | 'boolean' }>;
type Values = Record<string, string | boolean | undefined>;

function parse(argv: string[], options: OptionSpec, usage: string): { values: Values } {
  try {
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    return { values: values as Values };
  } catch (error) {
    throw new UsageError([(error as Error).message, `usage: ${usage}`]);
  }
}

const NETWORK_OPTIONS = REGION_KEYS.flatMap((region) => [
  subnetsOption(region),
  securityGroupsOption(region),
  egressIpsOption(region),
]).map((option) => option.slice(2));

export function parseDeployArgs(argv: string[]): DeployOptions {
  const { values } = parse(
    argv,
    {
      stage: { type: 'string' },
      region: { type: 'string' },
      'dry-run': { type: 'boolean' },
      noDeploy: { type: 'boolean' },
      vpc: { type: 'string' },
      'first-deploy': { type: 'boolean' },
      ...Object.fromEntries(NETWORK_OPTIONS.map((name) => [name, { type: 'string' as const }])),
    },
    DEPLOY_USAGE,
  );
  const problems: string[] = [];
  const stage = checkStage(values.stage as string | undefined, problems);
  const regions = checkRegions(values.region as string | undefined, problems);
  const dryRun = Boolean(values['dry-run'] || values.noDeploy);
  const firstDeploy = Boolean(values['first-deploy']);
  if (firstDeploy && !dryRun) {
    problems.push('--first-deploy goes with --dry-run: a real deploy asks CloudFormation which stacks exist');
  }
  const vpc = (values.vpc as string | undefined) ?? 'create';
  const given = NETWORK_OPTIONS.filter((name) => values[name] !== undefined);
  let network: NetworkChoice = { mode: 'create' };
  if (vpc === 'create') {
    for (const name of given) problems.push(`--${name} goes with --vpc existing (--vpc create makes the network itself)`);
  } else if (vpc === 'existing') {
    const regionsGiven: Partial<Record<RegionKey, ExistingNetwork>> = {};
    for (const region of REGION_KEYS) {
      const value = (option: string) => values[option.slice(2)] as string | undefined;
      const options = [subnetsOption(region), securityGroupsOption(region), egressIpsOption(region)];
      if (!regions.includes(region)) {
        for (const option of options.filter((o) => value(o) !== undefined)) {
          problems.push(`${option}: ${region} is not being deployed (--region)`);
        }
        continue;
      }
      if (options.every((o) => value(o) === undefined)) continue;
      regionsGiven[region] = {
        subnets: splitList(value(subnetsOption(region))),
        securityGroups: splitList(value(securityGroupsOption(region))),
        egressIps: splitList(value(egressIpsOption(region))),
      };
    }
    network = { mode: 'existing', regions: regionsGiven };
  } else {
    problems.push(`--vpc: ${vpc} is neither create nor existing`);
  }
  problems.push(...checkNetwork(network, regions));
  if (problems.length > 0) throw new UsageError([...problems, `usage: ${DEPLOY_USAGE}`]);
  return { stage, regions, dryRun, network, firstDeploy };
}

export function parseRemoveArgs(argv: string[]): RemoveOptions {
  const { values } = parse(
    argv,
    { stage: { type: 'string' }, region: { type: 'string' }, 'dry-run': { type: 'boolean' }, noDeploy: { type: 'boolean' } },
    REMOVE_USAGE,
  );
  const problems: string[] = [];
  const stage = checkStage(values.stage as string | undefined, problems);
  const regions = checkRegions(values.region as string | undefined, problems);
  if (problems.length > 0) throw new UsageError([...problems, `usage: ${REMOVE_USAGE}`]);
  return { stage, regions, dryRun: Boolean(values['dry-run'] || values.noDeploy) };
}
