import type { EndpointView } from '../core/api/types';
import type { ApiClient } from './client';
import { notFound, usageError } from './errors';

const ENDPOINT_ID = /^ep_[0-9a-z]{26}$/;

/** An endpoint named by id or by name (names are the customer's own, so the CLI looks them up). */
export async function endpointIdOf(client: ApiClient, ref: string): Promise<string> {
  if (ENDPOINT_ID.test(ref)) return ref;
  const endpoints = await client.all<EndpointView>('/endpoints');
  const named = endpoints.filter((e) => e.name === ref);
  // A disabled endpoint keeps its name: a live one of the same name is the one meant.
  const live = named.filter((e) => e.status !== 'DISABLED');
  const chosen = live.length === 1 ? live : named;
  if (chosen.length === 1 && chosen[0]) return chosen[0].id;
  if (chosen.length === 0) throw notFound(`no endpoint named ${ref}: eft endpoints list shows yours`);
  throw usageError(`${chosen.length} endpoints are named ${ref} (${chosen.map((e) => e.id).join(', ')}): name one by its id`);
}

/** `<endpoint>:<path>`, split at the first colon (an endpoint whose name holds one is named by its id). */
export function splitLocation(text: string, what: string): { endpoint: string; path: string } {
  const colon = text.indexOf(':');
  if (colon <= 0) throw usageError(`${what} ${text} must be <endpoint name or id>:<path>, e.g. partner-out:/daily/`);
  return { endpoint: text.slice(0, colon), path: text.slice(colon + 1) };
}
