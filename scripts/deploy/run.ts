/**
 * `npm run deploy` and `npm run remove`: check, plan, print the plan, then act (or, in a dry run, package
 * the regions offline and stop). Everything outside the process goes through `aws` and `shell`, which the
 * tests replace.
 */
import { join } from 'node:path';
import type { DeployOptions, RemoveOptions } from './args';
import type { DeployAws } from './aws';
import { imageTag } from './image-tag';
import {
  buildDeployPlan,
  commandLine,
  describePlan,
  LOCAL_IMAGE,
  oslsCommand,
  PlanError,
  type StageState,
  type Step,
} from './plan';
import { checkAccount, checkTools } from './prerequisites';
import { REGION_KEYS, REGIONS, type RegionKey, repositoryName, stackName } from './regions';
import { parseTemplate, retainedResources } from './retained';
import type { Shell } from './shell';

export interface ScriptEnv {
  aws: DeployAws;
  shell: Shell;
  out: (line: string) => void;
  now: () => Date;
  /** The project's root: dry-run packages go to .eft/deploy/<stage>/<region> under it. */
  root: string;
  /** Reads a packaged template (the file osls wrote). */
  readFile: (path: string) => string;
}

const packageDir = (env: ScriptEnv, stage: string, region: RegionKey) => join(env.root, '.eft', 'deploy', stage, region);

/** Packages a region offline (osls package: no credentials, no AWS), returning the template's path. */
async function packageRegion(env: ScriptEnv, stage: string, region: RegionKey, params: string[]): Promise<string> {
  const dir = packageDir(env, stage, region);
  const command = oslsCommand('package', region, stage, params);
  command.args.push('--package', dir);
  env.out(`packaging ${REGIONS[region]}: ${commandLine(command)}`);
  await env.shell.run(command.cmd, command.args);
  return join(dir, 'cloudformation-template-update-stack.json');
}

async function stageState(env: ScriptEnv, stage: string): Promise<StageState> {
  const state: StageState = { stacks: { west: false, east: false }, repositories: { west: false, east: false } };
  for (const key of REGION_KEYS) {
    state.stacks[key] = await env.aws.stackExists(REGIONS[key], stackName(stage));
    state.repositories[key] = await env.aws.repositoryExists(REGIONS[key], repositoryName(stage));
  }
  return state;
}

async function buildTag(env: ScriptEnv): Promise<string> {
  const sha = await env.shell.capture('git', ['rev-parse', 'HEAD']);
  const dirty = (await env.shell.capture('git', ['status', '--porcelain'])).length > 0;
  return imageTag(sha, env.now(), dirty);
}

async function push(env: ScriptEnv, step: Extract<Step, { kind: 'push' }>): Promise<void> {
  const region = REGIONS[step.region];
  if (await env.aws.imageTagExists(region, step.repository, step.tag)) {
    env.out(`${step.repository}:${step.tag} is in ${region} already`);
    return;
  }
  const login = await env.aws.registryLogin(region);
  const remote = `${login.registry}/${step.repository}:${step.tag}`;
  await env.shell.run('docker', ['login', '--username', login.username, '--password-stdin', login.registry], {
    input: login.password,
  });
  await env.shell.run('docker', ['tag', `${LOCAL_IMAGE}:${step.tag}`, remote]);
  await env.shell.run('docker', ['push', remote]);
}

function refuse(env: ScriptEnv, what: string, problems: string[]): number {
  env.out(`Cannot ${what} yet:`);
  for (const problem of problems) env.out(problem.startsWith('  ') ? problem : `- ${problem}`);
  return 1;
}

export async function deploy(options: DeployOptions, env: ScriptEnv): Promise<number> {
  const { stage } = options;
  env.out(`eft ${stage}: deploy ${options.regions.map((r) => REGIONS[r]).join(' and ')}${options.dryRun ? ' (dry run)' : ''}`);
  env.out(
    options.network.mode === 'create'
      ? 'network: a VPC per region stack (NAT gateways with Elastic IPs: the egress addresses)'
      : 'network: your VPCs (subnets, security groups and egress addresses as given)',
  );
  if (!options.dryRun) {
    const problems = [...(await checkTools(env.shell, true)), ...(await checkAccount(env.aws, options.regions, true))];
    if (problems.length > 0) return refuse(env, 'deploy', problems);
  }
  const state: StageState = options.dryRun
    ? {
        stacks: { west: !options.firstDeploy, east: !options.firstDeploy },
        repositories: { west: !options.firstDeploy, east: !options.firstDeploy },
      }
    : await stageState(env, stage);
  const tag = await buildTag(env);
  let steps: Step[];
  try {
    steps = buildDeployPlan({ stage, regions: options.regions, network: options.network, tag, state });
  } catch (error) {
    if (error instanceof PlanError) return refuse(env, 'deploy', [error.message]);
    throw error;
  }
  env.out(
    options.dryRun
      ? `plan (${options.firstDeploy ? 'the first deploy of the stage' : 'the stage’s stacks exist'}; a real run asks CloudFormation):`
      : 'plan:',
  );
  for (const line of describePlan(steps, stage)) env.out(line);

  if (options.dryRun) {
    env.out('dry run: nothing is built, pushed or deployed; docker and AWS are not used. Packaging offline:');
    for (const region of options.regions) {
      const last = steps.filter((s): s is Extract<Step, { kind: 'deploy' }> => s.kind === 'deploy' && s.region === region).at(-1);
      const file = await packageRegion(env, stage, region, last?.params ?? []);
      env.out(`packaged ${REGIONS[region]}: ${file}`);
    }
    return 0;
  }

  for (const step of steps) {
    if (step.kind === 'build') await env.shell.run(step.command.cmd, step.command.args);
    else if (step.kind === 'push') await push(env, step);
    else await env.shell.run(step.command.cmd, step.command.args);
  }
  env.out(`deployed eft-${stage}, worker image ${tag}. Partners allow-list these addresses (also GET /egress):`);
  for (const region of options.regions) {
    const egress = await env.aws.stackOutput(REGIONS[region], stackName(stage), 'EgressIps');
    env.out(`  ${REGIONS[region]}: ${egress ?? '(no EgressIps output)'}`);
  }
  return 0;
}

/** Removes east before west: west owns the global tables (kept either way), east holds only replicas of them. */
const REMOVE_ORDER: RegionKey[] = ['east', 'west'];

export async function remove(options: RemoveOptions, env: ScriptEnv): Promise<number> {
  const { stage } = options;
  const regions = REMOVE_ORDER.filter((r) => options.regions.includes(r));
  env.out(`eft ${stage}: remove ${regions.map((r) => REGIONS[r]).join(', then ')}${options.dryRun ? ' (dry run)' : ''}`);
  if (!options.dryRun) {
    const problems = await checkAccount(env.aws, regions, false);
    if (problems.length > 0) return refuse(env, 'remove', problems);
  }
  const kept: string[] = [];
  for (const region of regions) {
    const awsRegion = REGIONS[region];
    const repository = repositoryName(stage);
    const body = options.dryRun
      ? env.readFile(await packageRegion(env, stage, region, []))
      : await env.aws.stackTemplate(awsRegion, stackName(stage));
    if (body === undefined) {
      env.out(`${awsRegion}: no stack ${stackName(stage)}, nothing to remove`);
      continue;
    }
    const retained = retainedResources(parseTemplate(body), awsRegion);
    const command = oslsCommand('remove', region, stage, []);
    env.out(`${options.dryRun ? 'would run' : 'running'}: ${commandLine(command)}`);
    if (!options.dryRun) await env.shell.run(command.cmd, command.args);
    for (const resource of retained) {
      if (resource.type === 'AWS::ECR::Repository') {
        if (options.dryRun) {
          kept.push(`${awsRegion}: ${resource.name}: ECR repository, deleted afterwards if it holds no image, else kept`);
          continue;
        }
        const images = await env.aws.imageCount(awsRegion, repository);
        if (images === 0) {
          await env.aws.deleteEmptyRepository(awsRegion, repository);
          env.out(`${awsRegion}: deleted the empty repository ${repository}`);
        } else if (images !== undefined) {
          kept.push(
            `${awsRegion}: ${resource.name}: ECR repository with ${images} image(s) (aws ecr delete-repository --force to drop them)`,
          );
        }
        continue;
      }
      kept.push(`${awsRegion}: ${resource.name}: ${resource.note}`);
    }
  }
  if (kept.length > 0) {
    env.out(`${options.dryRun ? 'Would keep' : 'Kept'} (DeletionPolicy: Retain in the templates):`);
    for (const line of kept) env.out(`  ${line}`);
    env.out('A new deploy of this stage needs the named ones gone (or imported into the new stacks): names are fixed per stage.');
  }
  return 0;
}
