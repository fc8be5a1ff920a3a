/** The order of a deploy (scripts/deploy/plan.ts): README "Deploying", docs/failover.md "Deploy order". */
import { buildDeployPlan, type PlanInput, type StageState, type Step } from '../../scripts/deploy/plan';

const TAG = '0123456789ab-20261203T052400Z';
const none: StageState = { stacks: { west: false, east: false }, repositories: { west: false, east: false } };
const all: StageState = { stacks: { west: true, east: true }, repositories: { west: true, east: true } };

function plan(state: StageState, regions: PlanInput['regions'] = ['west', 'east']): Step[] {
  return buildDeployPlan({ stage: 'prod', regions, network: { mode: 'create' }, tag: TAG, state });
}

/** A plan as short lines: build, push <region>, deploy <region> [params that differ]. */
function outline(steps: Step[]): string[] {
  return steps.map((step) => {
    if (step.kind === 'build') return 'build';
    if (step.kind === 'push') return `push ${step.region}`;
    return `deploy ${step.region}${step.params.includes('stagingReplication=false') ? ' stagingReplication=false' : ''}`;
  });
}

describe('deploy order', () => {
  test('a new stage: east without replication, west (the tables), east again; each new repository is pushed to after its stack exists', () => {
    expect(outline(plan(none))).toEqual([
      'build',
      'deploy east stagingReplication=false',
      'push east',
      'deploy west',
      'push west',
      'deploy east',
    ]);
  });

  test('an existing stage: west first (it owns the tables), then east, each pushed to before its deploy', () => {
    expect(outline(plan(all))).toEqual(['build', 'push west', 'deploy west', 'push east', 'deploy east']);
  });

  test('stacks from before the repository existed: the push follows the deploy that creates it', () => {
    expect(outline(plan({ stacks: { west: true, east: true }, repositories: { west: false, east: false } }))).toEqual([
      'build',
      'deploy west',
      'push west',
      'deploy east',
      'push east',
    ]);
  });

  test('east lost and redeployed while west exists: east first, so its bucket exists for west’s rule', () => {
    expect(outline(plan({ stacks: { west: true, east: false }, repositories: { west: true, east: false } }))).toEqual([
      'build',
      'deploy east',
      'push east',
      'push west',
      'deploy west',
    ]);
  });

  test('one region while the other is down: that region alone', () => {
    expect(outline(plan(all, ['east']))).toEqual(['build', 'push east', 'deploy east']);
    expect(outline(plan(all, ['west']))).toEqual(['build', 'push west', 'deploy west']);
  });

  test('east alone on a new stage: without replication (west’s bucket does not exist yet)', () => {
    const steps = plan(none, ['east']);
    expect(outline(steps)).toEqual(['build', 'deploy east stagingReplication=false', 'push east']);
    expect(steps.find((s) => s.kind === 'deploy')).toMatchObject({
      why: expect.stringMatching(/deploy west next, then east again/),
    });
  });

  test('west alone on a new stage is refused: its tables need east’s key', () => {
    expect(() => plan(none, ['west'])).toThrow(
      /west's global tables need east's key.*Deploy both regions \(no --region\), or east first/,
    );
  });

  test('every deploy names the image built in this run and the network, by osls params', () => {
    const deploys = plan(all).filter((s): s is Extract<Step, { kind: 'deploy' }> => s.kind === 'deploy');
    expect(deploys.map((d) => d.command.args.join(' '))).toEqual([
      `--no osls deploy --config serverless.west.yml --stage prod --param workerImageTag=${TAG} --param network=create --param vpcCidr=10.80.0.0/16`,
      `--no osls deploy --config serverless.east.yml --stage prod --param workerImageTag=${TAG} --param network=create --param vpcCidr=10.81.0.0/16`,
    ]);
  });

  test('the image is built once, for ARM64 (the task definition’s CPU architecture), tagged with this build', () => {
    const build = plan(all)[0];
    expect(build).toEqual({
      kind: 'build',
      tag: TAG,
      command: {
        cmd: 'docker',
        args: ['build', '--platform', 'linux/arm64', '-f', 'fargate-worker/Dockerfile', '-t', `eft-worker:${TAG}`, '.'],
      },
    });
  });
});
