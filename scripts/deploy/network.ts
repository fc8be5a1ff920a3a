/**
 * The worker's network, per region, as given on the command line, checked before anything is deployed: the
 * stack's own VPC (`--vpc create`, the default), or the operator's (`--vpc existing` with each region's
 * subnets, security groups and egress addresses). A missing, malformed or placeholder value is refused with
 * the option that carries it. What cannot be checked offline (that the subnets exist, are private, in two
 * availability zones, and that the NAT leaves from the given addresses) is the operator's to know:
 * CloudFormation, Lambda and ECS refuse ids that do not exist when the stack deploys.
 */
import { isIPv4 } from 'node:net';
import type { RegionKey } from './regions';

export interface ExistingNetwork {
  subnets: string[];
  securityGroups: string[];
  egressIps: string[];
}
export type NetworkChoice = { mode: 'create' } | { mode: 'existing'; regions: Partial<Record<RegionKey, ExistingNetwork>> };

/** The placeholders serverless.region-common.yml shipped before the stack could create its network. */
export const PLACEHOLDER_SUBNET = 'subnet-00000000000000000';
export const PLACEHOLDER_SECURITY_GROUP = 'sg-00000000000000000';

const SUBNET = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;
const SECURITY_GROUP = /^sg-([0-9a-f]{8}|[0-9a-f]{17})$/;
const ALL_ZEROS = /^[a-z]+-0+$/;
/** Lambda takes at most 5 security groups per function (and ECS 5 per task). */
const MAX_SECURITY_GROUPS = 5;

export const subnetsOption = (region: RegionKey) => `--${region}-subnets`;
export const securityGroupsOption = (region: RegionKey) => `--${region}-security-groups`;
export const egressIpsOption = (region: RegionKey) => `--${region}-egress-ips`;

/** A comma-separated option value as a list (blanks dropped). */
export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function checkIds(option: string, ids: string[], pattern: RegExp, kind: string, placeholder: string): string[] {
  const errors: string[] = [];
  if (ids.length === 0) errors.push(`${option} is required with --vpc existing (${kind} ids, comma-separated)`);
  for (const id of ids) {
    if (id === placeholder || ALL_ZEROS.test(id)) {
      errors.push(`${option}: ${id} is a placeholder, not one of your ${kind}s`);
    } else if (!pattern.test(id)) {
      errors.push(`${option}: ${id} is not a ${kind} id (${pattern.source})`);
    }
  }
  const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (duplicates.length > 0) errors.push(`${option}: ${[...new Set(duplicates)].join(', ')} given twice`);
  return errors;
}

/** Why an IPv4 address cannot be one partners see (private, shared, reserved or documentation ranges), if so. */
export function nonPublicReason(address: string): string | undefined {
  const [a = 0, b = 0, c = 0] = address.split('.').map(Number);
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'a private address';
  if (a === 100 && b >= 64 && b <= 127) return 'a carrier-grade NAT address';
  if (a === 127 || a === 0) return 'not routable';
  if (a === 169 && b === 254) return 'a link-local address';
  if (a >= 224) return 'a multicast or reserved address';
  if ((a === 192 && b === 0 && c === 2) || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)) {
    return 'a documentation address (a placeholder)';
  }
  return undefined;
}

/** Every problem with one region's existing network, each naming its option; empty when it can be deployed. */
export function checkExistingNetwork(region: RegionKey, network: ExistingNetwork): string[] {
  const errors = [
    ...checkIds(subnetsOption(region), network.subnets, SUBNET, 'subnet', PLACEHOLDER_SUBNET),
    ...checkIds(
      securityGroupsOption(region),
      network.securityGroups,
      SECURITY_GROUP,
      'security group',
      PLACEHOLDER_SECURITY_GROUP,
    ),
  ];
  if (network.subnets.length === 1) {
    errors.push(
      `${subnetsOption(region)}: give private subnets in at least two availability zones (one AZ's outage stops every transfer)`,
    );
  }
  if (network.securityGroups.length > MAX_SECURITY_GROUPS) {
    errors.push(`${securityGroupsOption(region)}: at most ${MAX_SECURITY_GROUPS} security groups (Lambda's limit)`);
  }
  const option = egressIpsOption(region);
  if (network.egressIps.length === 0) {
    errors.push(
      `${option} is required with --vpc existing: the public IPv4 addresses your NAT leaves from (GET /egress tells customers)`,
    );
  }
  for (const address of network.egressIps) {
    if (!isIPv4(address)) errors.push(`${option}: ${address} is not an IPv4 address`);
    else {
      const reason = nonPublicReason(address);
      if (reason) errors.push(`${option}: ${address} is ${reason}; partners see a public address`);
    }
  }
  return errors;
}

/**
 * The created VPCs' ranges: one /16 per region, not overlapping, so the two can be peered or joined to a
 * transit gateway later without renumbering.
 */
export const CREATED_VPC_CIDRS: Record<RegionKey, string> = { west: '10.80.0.0/16', east: '10.81.0.0/16' };

/** Every problem with the network choice for the regions being deployed. */
export function checkNetwork(choice: NetworkChoice, regions: RegionKey[]): string[] {
  if (choice.mode === 'create') return [];
  return regions.flatMap((region) => {
    const network = choice.regions[region];
    if (!network) {
      return [
        `${subnetsOption(region)}, ${securityGroupsOption(region)} and ${egressIpsOption(region)} are required with --vpc existing`,
      ];
    }
    return checkExistingNetwork(region, network);
  });
}

/** The osls params (`--param key=value`) that give resources/vpc.yml's stack parameters their values for a region. */
export function networkParams(choice: NetworkChoice, region: RegionKey): string[] {
  if (choice.mode === 'create') {
    return ['network=create', `vpcCidr=${CREATED_VPC_CIDRS[region]}`];
  }
  const network = choice.regions[region];
  if (!network) throw new Error(`no network for ${region}`);
  return [
    'network=existing',
    `workerSubnets=${network.subnets.join(',')}`,
    `workerSecurityGroups=${network.securityGroups.join(',')}`,
    `egressIps=${network.egressIps.join(',')}`,
  ];
}
