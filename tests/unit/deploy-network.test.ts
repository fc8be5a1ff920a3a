/** The operator's network, checked before deploying (scripts/deploy/network.ts), and the params it becomes. */
import { checkExistingNetwork, checkNetwork, networkParams, nonPublicReason } from '../../scripts/deploy/network';

const GOOD = {
  subnets: ['subnet-0123456789abcdef0', 'subnet-89abcdef'],
  securityGroups: ['sg-0a1b2c3d4e5f60718'],
  egressIps: ['3.30.0.10'],
};

describe('an existing network', () => {
  test('real-looking ids in two subnets, a security group and a public address pass', () => {
    expect(checkExistingNetwork('west', GOOD)).toEqual([]);
  });

  test('every problem is named by its option', () => {
    expect(
      checkExistingNetwork('east', {
        subnets: ['subnet-00000000', 'subnet-XYZ', 'subnet-89abcdef', 'subnet-89abcdef'],
        securityGroups: ['sg-00000000000000000', 'sg-12345678', 'sg-12345678', 'sg-22345678', 'sg-32345678', 'sg-42345678'],
        egressIps: ['10.0.0.1', '203.0.113.7', '300.1.1.1', '52.61.0.1'],
      }),
    ).toEqual([
      '--east-subnets: subnet-00000000 is a placeholder, not one of your subnets',
      '--east-subnets: subnet-XYZ is not a subnet id (^subnet-([0-9a-f]{8}|[0-9a-f]{17})$)',
      '--east-subnets: subnet-89abcdef given twice',
      '--east-security-groups: sg-00000000000000000 is a placeholder, not one of your security groups',
      '--east-security-groups: sg-12345678 given twice',
      "--east-security-groups: at most 5 security groups (Lambda's limit)",
      '--east-egress-ips: 10.0.0.1 is a private address; partners see a public address',
      '--east-egress-ips: 203.0.113.7 is a documentation address (a placeholder); partners see a public address',
      '--east-egress-ips: 300.1.1.1 is not an IPv4 address',
    ]);
  });

  test('one subnet is refused: the worker and the functions need two availability zones', () => {
    expect(checkExistingNetwork('west', { ...GOOD, subnets: ['subnet-89abcdef'] })).toEqual([
      "--west-subnets: give private subnets in at least two availability zones (one AZ's outage stops every transfer)",
    ]);
  });

  test('empty lists are refused', () => {
    expect(checkExistingNetwork('west', { subnets: [], securityGroups: [], egressIps: [] })).toEqual([
      '--west-subnets is required with --vpc existing (subnet ids, comma-separated)',
      '--west-security-groups is required with --vpc existing (security group ids, comma-separated)',
      '--west-egress-ips is required with --vpc existing: the public IPv4 addresses your NAT leaves from (GET /egress tells customers)',
    ]);
  });

  test('addresses partners cannot see', () => {
    expect(
      ['172.16.0.1', '192.168.1.1', '100.64.0.1', '127.0.0.1', '169.254.1.1', '224.0.0.1', '198.51.100.1', '192.0.2.1']
        .map(nonPublicReason)
        .every(Boolean),
    ).toBe(true);
    expect(nonPublicReason('52.61.0.1')).toBeUndefined();
  });
});

describe('the params a network becomes', () => {
  test('create: each region its own /16, so the two VPCs never overlap', () => {
    expect(networkParams({ mode: 'create' }, 'west')).toEqual(['network=create', 'vpcCidr=10.80.0.0/16']);
    expect(networkParams({ mode: 'create' }, 'east')).toEqual(['network=create', 'vpcCidr=10.81.0.0/16']);
    expect(checkNetwork({ mode: 'create' }, ['west', 'east'])).toEqual([]);
  });

  test('existing: comma-separated lists, as the stack parameters take them', () => {
    expect(networkParams({ mode: 'existing', regions: { west: GOOD } }, 'west')).toEqual([
      'network=existing',
      'workerSubnets=subnet-0123456789abcdef0,subnet-89abcdef',
      'workerSecurityGroups=sg-0a1b2c3d4e5f60718',
      'egressIps=3.30.0.10',
    ]);
  });
});
