/**
 * The order of a deploy (README "Deploying", docs/failover.md "Deploy order"): the west stack owns the
 * global tables, whose east replicas are encrypted with the east stack's key, and each region's staging
 * bucket replicates to the other's, so a stage's FIRST deploy is three steps:
 *   1. east with stagingReplication=false (its key and bucket; no replication rule yet),
 *   2. west (the tables, replicas in both regions; its rule points at east's bucket),
 *   3. east again (its rule now points at west's bucket).
 * Later deploys go west first (table changes belong to the west stack), then east. One region alone deploys
 * on its own (a region is down: docs/failover.md "Deploying while a region is down").
 *
 * The worker image is built once per run and pushed to each region's repository (resources/ecr.yml) before
 * that region's deploy; a stack that does not exist yet creates its repository, so there the push follows
 * the deploy (no transfer can run on a stack before it exists).
 */
import { type NetworkChoice, networkParams } from './network';
import { REGIONS, type RegionKey, repositoryName } from './regions';

export interface Command {
  cmd: string;
  args: string[];
}

export type Step =
  | { kind: 'build'; tag: string; command: Command }
  | { kind: 'push'; region: RegionKey; tag: string; repository: string }
  | { kind: 'deploy'; region: RegionKey; params: string[]; why: string; command: Command };

/** What exists of the stage in AWS: each region's stack and its image repository. */
export interface StageState {
  stacks: Record<RegionKey, boolean>;
  repositories: Record<RegionKey, boolean>;
}

export interface PlanInput {
  stage: string;
  regions: RegionKey[];
  network: NetworkChoice;
  tag: string;
  state: StageState;
}

/** The local image name the build gives the worker before it is tagged for a registry. */
export const LOCAL_IMAGE = 'eft-worker';

/** Cannot be planned: says why and what to do instead. */
export class PlanError extends Error {
  override name = 'PlanError';
}

/** The command that builds the worker image: Fargate runs it on ARM64 (resources/worker.yml, RuntimePlatform). */
export function buildCommand(tag: string): Command {
  return {
    cmd: 'docker',
    args: ['build', '--platform', 'linux/arm64', '-f', 'fargate-worker/Dockerfile', '-t', `${LOCAL_IMAGE}:${tag}`, '.'],
  };
}

export function oslsCommand(
  action: 'deploy' | 'package' | 'remove',
  region: RegionKey,
  stage: string,
  params: string[],
): Command {
  return {
    cmd: 'npx',
    args: [
      '--no',
      'osls',
      action,
      '--config',
      `serverless.${region}.yml`,
      '--stage',
      stage,
      ...params.flatMap((param) => ['--param', param]),
    ],
  };
}

/** The osls params of one region's deploy. */
export function deployParams(input: PlanInput, region: RegionKey, stagingReplication: boolean): string[] {
  return [
    `workerImageTag=${input.tag}`,
    ...networkParams(input.network, region),
    ...(stagingReplication ? [] : ['stagingReplication=false']),
  ];
}

export function buildDeployPlan(input: PlanInput): Step[] {
  const { regions, state } = input;
  const steps: Step[] = [{ kind: 'build', tag: input.tag, command: buildCommand(input.tag) }];
  const repositories = { ...state.repositories };
  const pushed = new Set<RegionKey>();
  const deploy = (region: RegionKey, why: string, stagingReplication = true) => {
    const push = () => {
      if (pushed.has(region)) return;
      pushed.add(region);
      steps.push({ kind: 'push', region, tag: input.tag, repository: repositoryName(input.stage) });
    };
    const hadRepository = repositories[region];
    if (hadRepository) push();
    const params = deployParams(input, region, stagingReplication);
    steps.push({ kind: 'deploy', region, params, why, command: oslsCommand('deploy', region, input.stage, params) });
    repositories[region] = true;
    if (!hadRepository) push();
  };

  const both = regions.includes('west') && regions.includes('east');
  const { west, east } = state.stacks;
  if (both && !west && !east) {
    deploy(
      'east',
      `first deploy of the stage, step 1 of 3: east's key (for the east table replicas) and staging bucket, no replication rule yet`,
      false,
    );
    deploy('west', 'step 2 of 3: the global tables (replicas in both regions); its replication rule points at east’s bucket');
    deploy('east', 'step 3 of 3: east again, its replication rule now points at west’s bucket');
  } else if (both && !east) {
    deploy('east', `east's stack is new; west's staging bucket exists, so its replication rule can point at it`);
    deploy('west', 'west owns the global tables');
  } else if (both) {
    deploy(
      'west',
      west
        ? 'west first: it owns the global tables, so a table change reaches them before east’s code needs it'
        : 'west’s stack is new (east exists): the global tables, then east’s replication rule can point at west’s bucket',
    );
    deploy('east', 'then east');
  } else if (regions[0] === 'west') {
    if (!west && !east) {
      throw new PlanError(
        `the stage has no stack in ${REGIONS.east} yet: west's global tables need east's key for their east replicas. ` +
          'Deploy both regions (no --region), or east first (--region east).',
      );
    }
    deploy('west', west ? 'west alone' : 'west’s first deploy (east exists)');
  } else {
    if (!east && !west) {
      deploy(
        'east',
        'east’s first deploy, before west exists: no replication rule yet (west’s bucket does not exist); ' +
          'deploy west next, then east again, or run without --region',
        false,
      );
    } else {
      deploy('east', east ? 'east alone' : 'east’s first deploy (west exists)');
    }
  }
  return steps;
}

/** A command as an operator would type it. */
export function commandLine(command: Command): string {
  return [command.cmd, ...command.args].map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg}'`)).join(' ');
}

/** The plan, one numbered line per step (and its command), as the script prints it. */
export function describePlan(steps: Step[], stage: string): string[] {
  return steps.flatMap((step, i) => {
    const n = `${i + 1}.`;
    switch (step.kind) {
      case 'build':
        return [
          `${n} build the worker image ${LOCAL_IMAGE}:${step.tag} (once, for both regions)`,
          `   ${commandLine(step.command)}`,
        ];
      case 'push': {
        const registry = `<account>.dkr.ecr.${REGIONS[step.region]}.amazonaws.com`;
        return [
          `${n} push it to ${step.repository} in ${REGIONS[step.region]} (skipped if that tag is there already: tags are immutable)`,
          `   docker login --username AWS --password-stdin ${registry}   (token: ECR GetAuthorizationToken)`,
          `   docker tag ${LOCAL_IMAGE}:${step.tag} ${registry}/${step.repository}:${step.tag}`,
          `   docker push ${registry}/${step.repository}:${step.tag}`,
        ];
      }
      default:
        return [
          `${n} deploy eft-${stage} in ${REGIONS[step.region]}: ${step.why}`,
          `   params: ${step.params.join(' ')}`,
          `   ${commandLine(step.command)}`,
        ];
    }
  });
}
