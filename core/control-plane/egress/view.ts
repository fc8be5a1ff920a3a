import { z } from 'zod';

/** What GET /egress answers (built by describeEgress, whose return type this is). */
export const EgressViewSchema = z
  .strictObject({
    region: z.string(),
    addresses: z.array(z.ipv4()).describe('Public IPv4 addresses, as partners see them'),
    cidrs: z.array(z.string()).describe('The same, as /32 ranges (what most firewall forms ask for)'),
  })
  .meta({ id: 'EgressView', description: 'The addresses a partner allow-lists for this region' });

export type EgressView = z.output<typeof EgressViewSchema>;
