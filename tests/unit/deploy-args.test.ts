/** The command lines of `npm run deploy` / `npm run remove` (scripts/deploy/args.ts): what is accepted, and every refusal named. */
import { parseDeployArgs, parseRemoveArgs, UsageError } from '../../scripts/deploy/args';

function refusal(argv: string[]): string[] {
  try {
    parseDeployArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) return error.problems.filter((p) => !p.startsWith('usage:'));
    throw error;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

const WEST = [
  '--west-subnets',
  'subnet-0123456789abcdef0,subnet-0fedcba9876543210',
  '--west-security-groups',
  'sg-0a1b2c3d4e5f60718',
  '--west-egress-ips',
  '3.30.0.10,3.30.0.11',
];
const EAST = [
  '--east-subnets',
  'subnet-11111111,subnet-22222222',
  '--east-security-groups',
  'sg-33333333',
  '--east-egress-ips',
  '18.252.0.5',
];

describe('npm run deploy: arguments', () => {
  test('a stage alone: both regions, a VPC per region stack, a real deploy', () => {
    expect(parseDeployArgs(['--stage', 'prod'])).toEqual({
      stage: 'prod',
      regions: ['west', 'east'],
      dryRun: false,
      network: { mode: 'create' },
      firstDeploy: false,
    });
  });

  test('--region picks one region; --dry-run and its alias --noDeploy are the same', () => {
    expect(parseDeployArgs(['--stage', 'prod', '--region', 'east', '--dry-run'])).toMatchObject({
      regions: ['east'],
      dryRun: true,
    });
    expect(parseDeployArgs(['--stage', 'prod', '--noDeploy'])).toMatchObject({ dryRun: true });
    expect(parseDeployArgs(['--stage', 'prod', '--noDeploy', '--first-deploy'])).toMatchObject({ firstDeploy: true });
  });

  test('--vpc existing takes each region’s subnets, security groups and egress addresses', () => {
    expect(parseDeployArgs(['--stage', 'prod', '--vpc', 'existing', ...WEST, ...EAST]).network).toEqual({
      mode: 'existing',
      regions: {
        west: {
          subnets: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
          securityGroups: ['sg-0a1b2c3d4e5f60718'],
          egressIps: ['3.30.0.10', '3.30.0.11'],
        },
        east: { subnets: ['subnet-11111111', 'subnet-22222222'], securityGroups: ['sg-33333333'], egressIps: ['18.252.0.5'] },
      },
    });
    expect(parseDeployArgs(['--stage', 'prod', '--region', 'west', '--vpc', 'existing', ...WEST]).regions).toEqual(['west']);
  });

  test('refused: no stage, a bad stage, an unknown region, an unknown --vpc, an unknown option', () => {
    expect(refusal([])).toEqual(['--stage is required']);
    expect(refusal(['--stage', 'Prod'])[0]).toMatch(/^--stage: Prod must be lowercase/);
    expect(refusal(['--stage', 'prod', '--region', 'central'])).toEqual(['--region: central is neither west nor east']);
    expect(refusal(['--stage', 'prod', '--vpc', 'default'])).toEqual(['--vpc: default is neither create nor existing']);
    expect(refusal(['--stage', 'prod', '--subnets', 'subnet-11111111'])[0]).toMatch(/Unknown option '--subnets'/);
    expect(refusal(['--stage', 'prod', '--first-deploy'])).toEqual([
      '--first-deploy goes with --dry-run: a real deploy asks CloudFormation which stacks exist',
    ]);
  });

  test('network options need --vpc existing, and only for the regions being deployed', () => {
    expect(refusal(['--stage', 'prod', ...WEST.slice(0, 2)])).toEqual([
      '--west-subnets goes with --vpc existing (--vpc create makes the network itself)',
    ]);
    expect(refusal(['--stage', 'prod', '--region', 'east', '--vpc', 'existing', ...EAST, ...WEST.slice(0, 2)])).toEqual([
      '--west-subnets: west is not being deployed (--region)',
    ]);
  });

  test('the placeholders of the old templates are refused, naming the option that carries them', () => {
    const problems = refusal([
      '--stage',
      'prod',
      '--region',
      'west',
      '--vpc',
      'existing',
      '--west-subnets',
      'subnet-00000000000000000,subnet-0123456789abcdef0',
      '--west-security-groups',
      'sg-00000000000000000',
      '--west-egress-ips',
      '3.30.0.10',
    ]);
    expect(problems).toEqual([
      '--west-subnets: subnet-00000000000000000 is a placeholder, not one of your subnets',
      '--west-security-groups: sg-00000000000000000 is a placeholder, not one of your security groups',
    ]);
  });

  test('--vpc existing without a region’s values names all three options', () => {
    expect(refusal(['--stage', 'prod', '--vpc', 'existing', ...WEST])).toEqual([
      '--east-subnets, --east-security-groups and --east-egress-ips are required with --vpc existing',
    ]);
  });
});

describe('npm run remove: arguments', () => {
  test('a stage, one region or both, and a dry run', () => {
    expect(parseRemoveArgs(['--stage', 'dev'])).toEqual({ stage: 'dev', regions: ['west', 'east'], dryRun: false });
    expect(parseRemoveArgs(['--stage', 'dev', '--region', 'west', '--noDeploy'])).toEqual({
      stage: 'dev',
      regions: ['west'],
      dryRun: true,
    });
    expect(() => parseRemoveArgs(['--region', 'west'])).toThrow('--stage is required');
  });
});
