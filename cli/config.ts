import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { CliError, EXIT, usageError } from './errors';

/** The options every command takes (README "The eft CLI"). */
export interface GlobalOptions {
  endpointUrl?: string;
  profile?: string;
  region?: string;
  localCustomer?: string;
  json?: boolean;
}

/** Where requests go and what signs them. */
export interface Target {
  url: string;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Said in errors: "the local engine (customer-a)" or the URL with the profile. */
  description: string;
}

/** What the CLI reads of .eft/local.json (written by `npm start`, local/stack.ts). */
interface LocalState {
  apis: Record<string, string>;
  customers: Array<{ customerId: string; accessKeyId: string; secretAccessKey: string }>;
}

const DEFAULT_LOCAL_REGION = 'us-gov-west-1';
const DEFAULT_LOCAL_CUSTOMER = 'customer-a';
const PROBE_TIMEOUT_MS = 3000;

/** EFT_LOCAL_STATE (the state folder, or local.json itself), else the first .eft/local.json from the cwd upwards. */
export function findLocalState(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  if (env.EFT_LOCAL_STATE) {
    const given = resolve(env.EFT_LOCAL_STATE);
    return given.endsWith('.json') ? given : join(given, 'local.json');
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, '.eft', 'local.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function readLocalState(path: string): LocalState {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LocalState;
  } catch (error) {
    throw new CliError(
      `cannot read ${path} (${(error as Error).message}): start the local engine with npm start`,
      EXIT.UNREACHABLE,
    );
  }
}

/**
 * The local engine checks signatures against its demo customers' keys, not
 * AWS's: real AWS credentials mean nothing to it, so against it the CLI signs
 * as a demo customer from local.json (customer-a unless --local-customer).
 */
function localTarget(state: LocalState, url: string, region: string, customerId = DEFAULT_LOCAL_CUSTOMER): Target {
  const customer = state.customers.find((c) => c.customerId === customerId);
  if (!customer) {
    throw usageError(
      `the local engine has no customer ${customerId}: use one of ${state.customers.map((c) => c.customerId).join(', ')}`,
    );
  }
  const { accessKeyId, secretAccessKey } = customer;
  return { url, region, credentials: { accessKeyId, secretAccessKey }, description: `the local engine (${customerId})` };
}

const sameOrigin = (a: string, b: string) => {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
};

/** A deployment's stage URL names its region (https://<id>.execute-api.<region>.amazonaws.com/<stage>). */
function regionOfUrl(url: string): string | undefined {
  return /\.execute-api(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$/.exec(new URL(url).hostname)?.[1];
}

async function awsTarget(url: string, options: GlobalOptions, env: NodeJS.ProcessEnv): Promise<Target> {
  const region = options.region ?? regionOfUrl(url) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw usageError(`cannot tell the region of ${url}: give --region (e.g. us-gov-west-1)`);
  // Loaded only when needed: the local engine does not use the AWS chain.
  const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  const credentials = fromNodeProviderChain(options.profile ? { profile: options.profile } : {});
  const who = options.profile ? `profile ${options.profile}` : 'the default AWS credentials';
  return { url, region, credentials, description: `${url} (${region}, ${who})` };
}

/** A running engine answers anything (unsigned: 401); a stale local.json names a port nobody listens on. */
async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return true;
  } catch {
    return false;
  }
}

/** --endpoint-url > EFT_ENDPOINT_URL > the running local engine of .eft/local.json. */
export async function resolveTarget(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<Target> {
  const statePath = findLocalState(env);
  const state = statePath && existsSync(statePath) ? readLocalState(statePath) : undefined;
  const explicit = options.endpointUrl ?? env.EFT_ENDPOINT_URL;
  if (explicit) {
    try {
      new URL(explicit);
    } catch {
      throw usageError(
        `--endpoint-url ${explicit} is not a URL (e.g. https://abc123.execute-api.us-gov-west-1.amazonaws.com/prod)`,
      );
    }
    const local = state && Object.entries(state.apis).find(([, api]) => sameOrigin(api, explicit));
    if (state && local) return localTarget(state, explicit, options.region ?? local[0], options.localCustomer);
    return awsTarget(explicit, options, env);
  }
  if (!state) {
    throw new CliError(
      'no API to talk to: give --endpoint-url (or EFT_ENDPOINT_URL) of your eft deployment, or start the local engine with npm start',
      EXIT.UNREACHABLE,
    );
  }
  const region = options.region ?? DEFAULT_LOCAL_REGION;
  const url = state.apis[region];
  if (!url) throw usageError(`the local engine has no API in ${region}: use one of ${Object.keys(state.apis).join(', ')}`);
  if (!(await answers(url))) {
    throw new CliError(
      `the local engine is not running: npm start (${statePath} names ${url}, which does not answer)`,
      EXIT.UNREACHABLE,
    );
  }
  return localTarget(state, url, region, options.localCustomer);
}
