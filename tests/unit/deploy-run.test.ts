/**
 * `npm run deploy` / `npm run remove` end to end with what they reach outside the process replaced
 * (scripts/deploy/run.ts): the dry run works offline (no docker, no AWS), the prerequisites are checked
 * before anything acts and say what is missing, a real run pushes and deploys in plan order without
 * a registry password in any argument or output line, and remove says what the templates keep.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { parseDeployArgs, parseRemoveArgs } from '../../scripts/deploy/args';
import type { DeployAws } from '../../scripts/deploy/aws';
import { loggingRoleInstructions } from '../../scripts/deploy/prerequisites';
import { retainedResources } from '../../scripts/deploy/retained';
import { deploy, remove, type ScriptEnv } from '../../scripts/deploy/run';
import type { Shell } from '../../scripts/deploy/shell';

const ROOT = resolve(__dirname, '..', '..');
const SHA = '0123456789abcdef0123456789abcdef01234567';
const PASSWORD = 'ecr-token-secret-value';

/** Records every command; git answers as a clean checkout, docker is there, everything else succeeds. */
function recordingShell(options: { docker?: boolean } = {}) {
  const commands: string[] = [];
  const inputs: string[] = [];
  const shell: Shell = {
    run: async (cmd, args, run) => {
      commands.push([cmd, ...args].join(' '));
      if (run?.input !== undefined) inputs.push(run.input);
    },
    capture: async (cmd, args) => {
      commands.push([cmd, ...args].join(' '));
      if (args[0] === 'rev-parse') return SHA;
      return '';
    },
    succeeds: async (cmd, args) => {
      commands.push([cmd, ...args].join(' '));
      return cmd !== 'docker' || options.docker !== false;
    },
  };
  return { shell, commands, inputs };
}

/** An AWS that fails the test if it is asked anything. */
const untouchable: DeployAws = new Proxy({} as DeployAws, {
  get: (_target, method) => () => {
    throw new Error(`AWS was asked ${String(method)}`);
  },
});

/** A fake account: which stacks and repositories exist, whether the logging role is set. */
function fakeAws(account: {
  credentials?: boolean;
  loggingRole?: boolean;
  stacks?: boolean;
  images?: number;
  tagPushed?: boolean;
}) {
  const calls: string[] = [];
  const aws: DeployAws = {
    hasCredentials: async () => account.credentials ?? true,
    apiGatewayLoggingRole: async (region) => {
      calls.push(`GetAccount ${region}`);
      return account.loggingRole === false ? undefined : 'arn:aws-us-gov:iam::111122223333:role/apigateway-cloudwatch-logs';
    },
    stackExists: async () => account.stacks ?? true,
    stackOutput: async (region) => (region === 'us-gov-west-1' ? '3.30.0.10,3.30.0.11' : '18.252.0.5,18.252.0.6'),
    stackTemplate: async () => JSON.stringify(templateFromResourceFiles()),
    repositoryExists: async () => account.stacks ?? true,
    imageTagExists: async (region) => Boolean(account.tagPushed) && region === 'us-gov-west-1',
    imageCount: async () => account.images ?? 3,
    deleteEmptyRepository: async (region, repository) => {
      calls.push(`DeleteRepository ${region} ${repository}`);
    },
    registryLogin: async (region) => ({
      registry: `111122223333.dkr.ecr.${region}.amazonaws.com`,
      username: 'AWS',
      password: PASSWORD,
    }),
  };
  return { aws, calls };
}

/** The resources files whose resources outlive a stack, merged as osls merges them (names left as written). */
function templateFromResourceFiles() {
  const resources = {};
  for (const file of ['tables.yml', 'buckets.yml', 'kms.yml', 'ecr.yml', 'worker.yml', 'vpc.yml']) {
    Object.assign(resources, parse(readFileSync(join(ROOT, 'resources', file), 'utf8')).Resources);
  }
  return { Resources: resources };
}

function scriptEnv(shell: Shell, aws: DeployAws) {
  const lines: string[] = [];
  const env: ScriptEnv = {
    aws,
    shell,
    out: (line) => lines.push(line),
    now: () => new Date('2026-12-03T05:24:00.123Z'),
    root: '/repo',
    readFile: () => JSON.stringify(templateFromResourceFiles()),
  };
  return { env, lines };
}

const TAG = '0123456789ab-20261203T052400Z';

describe('npm run deploy --dry-run', () => {
  test('offline: prints the first deploy’s three steps and packages both regions, with no docker and no AWS', async () => {
    const { shell, commands } = recordingShell({ docker: false });
    const { env, lines } = scriptEnv(shell, untouchable);
    const code = await deploy(parseDeployArgs(['--stage', 'prod', '--dry-run', '--first-deploy']), env);
    expect(code).toBe(0);
    expect(commands).toEqual([
      'git rev-parse HEAD',
      'git status --porcelain',
      `npx --no osls package --config serverless.west.yml --stage prod --param workerImageTag=${TAG} --param network=create --param vpcCidr=10.80.0.0/16 --package /repo/.eft/deploy/prod/west`,
      `npx --no osls package --config serverless.east.yml --stage prod --param workerImageTag=${TAG} --param network=create --param vpcCidr=10.81.0.0/16 --package /repo/.eft/deploy/prod/east`,
    ]);
    const plan = lines.filter((line) => /^\d+\. /.test(line));
    expect(plan).toEqual([
      `1. build the worker image eft-worker:${TAG} (once, for both regions)`,
      expect.stringMatching(/^2\. deploy eft-prod in us-gov-east-1: first deploy of the stage, step 1 of 3/),
      '3. push it to eft-prod-worker in us-gov-east-1 (skipped if that tag is there already: tags are immutable)',
      expect.stringMatching(/^4\. deploy eft-prod in us-gov-west-1: step 2 of 3: the global tables/),
      '5. push it to eft-prod-worker in us-gov-west-1 (skipped if that tag is there already: tags are immutable)',
      expect.stringMatching(/^6\. deploy eft-prod in us-gov-east-1: step 3 of 3/),
    ]);
    expect(lines).toContain(`   params: workerImageTag=${TAG} network=create vpcCidr=10.81.0.0/16 stagingReplication=false`);
    expect(lines).toContain('dry run: nothing is built, pushed or deployed; docker and AWS are not used. Packaging offline:');
  });

  test('--noDeploy with the operator’s network packages each region with its own subnets', async () => {
    const { shell, commands } = recordingShell();
    const { env } = scriptEnv(shell, untouchable);
    const argv = ['--stage', 'prod', '--noDeploy', '--region', 'west', '--vpc', 'existing'];
    argv.push(
      '--west-subnets',
      'subnet-11111111,subnet-22222222',
      '--west-security-groups',
      'sg-33333333',
      '--west-egress-ips',
      '3.30.0.10',
    );
    expect(await deploy(parseDeployArgs(argv), env)).toBe(0);
    expect(commands.at(-1)).toBe(
      `npx --no osls package --config serverless.west.yml --stage prod --param workerImageTag=${TAG} --param network=existing ` +
        '--param workerSubnets=subnet-11111111,subnet-22222222 --param workerSecurityGroups=sg-33333333 --param egressIps=3.30.0.10 ' +
        '--package /repo/.eft/deploy/prod/west',
    );
  });
});

describe('npm run deploy: prerequisites, before anything acts', () => {
  test('no API Gateway logging role: the exact commands to create it, and nothing built or deployed', async () => {
    const { shell, commands } = recordingShell();
    const { aws, calls } = fakeAws({ loggingRole: false });
    const { env, lines } = scriptEnv(shell, aws);
    expect(await deploy(parseDeployArgs(['--stage', 'prod']), env)).toBe(1);
    expect(calls).toEqual(['GetAccount us-gov-west-1', 'GetAccount us-gov-east-1']);
    expect(lines).toContain('Cannot deploy yet:');
    expect(lines).toContain(
      '  aws iam attach-role-policy --role-name apigateway-cloudwatch-logs --policy-arn arn:aws-us-gov:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs',
    );
    expect(lines).toContain(
      '  aws apigateway update-account --region us-gov-east-1 --patch-operations op=replace,path=/cloudwatchRoleArn,value=arn:aws-us-gov:iam::$(aws sts get-caller-identity --query Account --output text):role/apigateway-cloudwatch-logs',
    );
    expect(commands.filter((c) => c.startsWith('docker build') || c.includes('osls'))).toEqual([]);
  });

  test('no docker and no credentials: both said, nothing asked of AWS beyond the credential chain', async () => {
    const { shell } = recordingShell({ docker: false });
    const { aws, calls } = fakeAws({ credentials: false });
    const { env, lines } = scriptEnv(shell, aws);
    expect(await deploy(parseDeployArgs(['--stage', 'prod']), env)).toBe(1);
    expect(lines).toEqual([
      'eft prod: deploy us-gov-west-1 and us-gov-east-1',
      'network: a VPC per region stack (NAT gateways with Elastic IPs: the egress addresses)',
      'Cannot deploy yet:',
      '- docker: not found, or its daemon is not running (it builds and pushes the worker image)',
      expect.stringMatching(/^- AWS credentials: none found\. Set AWS_PROFILE/),
    ]);
    expect(calls).toEqual([]);
  });

  test('the instructions name the partition of the region', () => {
    expect(loggingRoleInstructions('us-east-1').join('\n')).toContain(
      'arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs',
    );
  });
});

describe('npm run deploy: a real run (fake AWS and shell)', () => {
  test('build, then per region: push (unless the tag is there), deploy; the registry password only on stdin', async () => {
    const { shell, commands, inputs } = recordingShell();
    const { aws } = fakeAws({ tagPushed: true });
    const { env, lines } = scriptEnv(shell, aws);
    expect(await deploy(parseDeployArgs(['--stage', 'prod']), env)).toBe(0);
    const acting = commands.filter((c) => !c.startsWith('git') && !c.startsWith('docker version'));
    expect(acting).toEqual([
      `docker build --platform linux/arm64 -f fargate-worker/Dockerfile -t eft-worker:${TAG} .`,
      expect.stringMatching(/^npx --no osls deploy --config serverless\.west\.yml --stage prod /),
      'docker login --username AWS --password-stdin 111122223333.dkr.ecr.us-gov-east-1.amazonaws.com',
      `docker tag eft-worker:${TAG} 111122223333.dkr.ecr.us-gov-east-1.amazonaws.com/eft-prod-worker:${TAG}`,
      `docker push 111122223333.dkr.ecr.us-gov-east-1.amazonaws.com/eft-prod-worker:${TAG}`,
      expect.stringMatching(/^npx --no osls deploy --config serverless\.east\.yml --stage prod /),
    ]);
    expect(lines).toContain(`eft-prod-worker:${TAG} is in us-gov-west-1 already`);
    expect(inputs).toEqual([PASSWORD]);
    expect([...commands, ...lines].some((text) => text.includes(PASSWORD))).toBe(false);
    expect(lines.slice(-2)).toEqual(['  us-gov-west-1: 3.30.0.10,3.30.0.11', '  us-gov-east-1: 18.252.0.5,18.252.0.6']);
  });
});

describe('npm run remove: what the templates keep, said', () => {
  test('the retained resources of the resource files: tables, staging bucket, KMS key, ECR repository', () => {
    const retained = retainedResources(templateFromResourceFiles(), 'us-gov-west-1');
    expect(retained.map((r) => `${r.type} ${r.logicalId}`)).toEqual([
      'AWS::DynamoDB::GlobalTable AuditTable',
      'AWS::DynamoDB::GlobalTable EndpointsTable',
      'AWS::DynamoDB::GlobalTable JobsTable',
      'AWS::DynamoDB::GlobalTable LeasesTable',
      'AWS::DynamoDB::GlobalTable PrincipalsTable',
      'AWS::DynamoDB::GlobalTable TriggersTable',
      'AWS::DynamoDB::GlobalTable TriggerStateTable',
      'AWS::ECR::Repository WorkerRepository',
      'AWS::KMS::Key EftKey',
      'AWS::S3::Bucket StagingBucket',
    ]);
    expect(retained.find((r) => r.logicalId === 'JobsTable')?.note).toMatch(
      /deletion protection on in \$\{param:region\} and \$\{param:peerRegion\}/,
    );
  });

  test('a repository with images is kept and said so; an empty one is deleted', async () => {
    for (const images of [3, 0]) {
      const { shell, commands } = recordingShell();
      const { aws, calls } = fakeAws({ images });
      const { env, lines } = scriptEnv(shell, aws);
      expect(await remove(parseRemoveArgs(['--stage', 'prod', '--region', 'east']), env)).toBe(0);
      expect(commands).toEqual(['npx --no osls remove --config serverless.east.yml --stage prod']);
      expect(lines).toContain('Kept (DeletionPolicy: Retain in the templates):');
      expect(lines.some((l) => /S3 bucket, with every object and version in it/.test(l))).toBe(true);
      if (images > 0) {
        expect(lines).toContain(
          `  us-gov-east-1: \${self:custom.worker.repository}: ECR repository with 3 image(s) (aws ecr delete-repository --force to drop them)`,
        );
        expect(calls).toEqual([]);
      } else {
        expect(calls).toEqual(['DeleteRepository us-gov-east-1 eft-prod-worker']);
        expect(lines).toContain('us-gov-east-1: deleted the empty repository eft-prod-worker');
      }
    }
  });

  test('the dry run packages offline, touches no AWS, and says what would be kept', async () => {
    const { shell, commands } = recordingShell();
    const { env, lines } = scriptEnv(shell, untouchable);
    expect(await remove(parseRemoveArgs(['--stage', 'prod', '--noDeploy']), env)).toBe(0);
    expect(commands).toEqual([
      'npx --no osls package --config serverless.east.yml --stage prod --package /repo/.eft/deploy/prod/east',
      'npx --no osls package --config serverless.west.yml --stage prod --package /repo/.eft/deploy/prod/west',
    ]);
    expect(lines).toContain('would run: npx --no osls remove --config serverless.east.yml --stage prod');
    expect(lines).toContain('Would keep (DeletionPolicy: Retain in the templates):');
  });
});
