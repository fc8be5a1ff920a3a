/**
 * The addresses a partner must allow-list: the public IPv4 addresses the
 * engine's traffic to partners leaves from in this region (the worker and the
 * functions that probe, list, stat and poll partner SFTP servers all run in
 * one network: resources/vpc.yml). The stack sets them in the egress function's
 * EGRESS_IPS, from the NAT gateways' Elastic IPs or from the operator's own
 * (parameter EgressIps). Both regions run jobs, so a partner allow-lists the
 * addresses of both: each region's GET /egress says its own.
 */
import { z } from 'zod';
import type { EgressView } from './view';

export type { EgressView } from './view';

/** GET /egress takes no query parameters: an unknown one is a 400 that names it. */
export const EgressQuerySchema = z.strictObject({});

const AddressesSchema = z.array(z.ipv4());

export interface EgressSettings {
  region: string;
  addresses: string[];
}

/**
 * The settings from the function's environment. An empty or missing EGRESS_IPS is an empty list (the local
 * runtime: its traffic leaves from the machine it runs on); a malformed address fails the container's start,
 * rather than telling a customer to allow-list something that is not an address.
 */
export function egressSettingsFromEnv(env: NodeJS.ProcessEnv): EgressSettings {
  const region = z
    .string()
    .min(1)
    .parse(env.AWS_REGION, { error: () => 'AWS_REGION is not set' });
  const raw = (env.EGRESS_IPS ?? '')
    .split(',')
    .map((address) => address.trim())
    .filter((address) => address.length > 0);
  const parsed = AddressesSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`EGRESS_IPS must be comma-separated IPv4 addresses: ${parsed.error.issues[0]?.message}`);
  return { region, addresses: [...new Set(parsed.data)].sort() };
}

export function describeEgress(settings: EgressSettings): EgressView {
  return {
    region: settings.region,
    addresses: settings.addresses,
    cidrs: settings.addresses.map((address) => `${address}/32`),
  };
}
