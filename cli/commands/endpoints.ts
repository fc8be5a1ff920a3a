import type { Command } from 'commander';
import type { CreateEndpointInput, EndpointView, Page, UpdateEndpointInput, ValidationView } from '../../core/api/types';
import { action, type Context, integer, readSecretFile } from '../context';
import { CliError, EXIT, usageError } from '../errors';
import { hintFor } from '../hints';
import { describe, table } from '../output';
import { ask, confirm } from '../prompt';
import { endpointIdOf } from '../resolve';

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const TYPES = { sftp: 'SFTP', s3: 'S3', 'transfer-family-sftp': 'TRANSFER_FAMILY_SFTP' } as const;

interface EndpointOptions {
  name?: string;
  direction?: string;
  maxConcurrency?: number;
  preferredRegion?: string;
  host?: string;
  port?: number;
  username?: string;
  basePath?: string;
  hostKeyFingerprint?: string;
  securityPolicy?: string;
  passwordFile?: string;
  privateKeyFile?: string;
  passphraseFile?: string;
  promptPassword?: boolean;
  bucket?: string;
  prefix?: string;
  bucketRegion?: string;
  kmsKeyId?: string;
  bucketOwner?: string;
  activate?: boolean;
  deactivate?: boolean;
}

type Credentials = NonNullable<Extract<CreateEndpointInput, { credentials: unknown }>['credentials']>;

/**
 * SFTP credentials from files, or typed at a hidden prompt: never a command-line
 * value (shell history and the process list would keep it). A password file's
 * trailing newline is not part of the password.
 */
async function credentialsOf(options: EndpointOptions, required: boolean, login: string): Promise<Credentials | undefined> {
  if (options.passwordFile && options.privateKeyFile) throw usageError('give --password-file or --private-key-file, not both');
  if (options.privateKeyFile) {
    const privateKey = await readSecretFile(options.privateKeyFile, 'private key');
    const passphrase = options.passphraseFile
      ? (await readSecretFile(options.passphraseFile, 'passphrase')).replace(/\r?\n$/, '')
      : undefined;
    return { privateKey, ...(passphrase ? { passphrase } : {}) };
  }
  if (options.passwordFile) return { password: (await readSecretFile(options.passwordFile, 'password')).replace(/\r?\n$/, '') };
  if (!required && !options.promptPassword) return undefined;
  const password = await ask(`Password for ${login}: `, { hidden: true });
  if (!password) throw usageError('no password given: type it at the prompt, or give --password-file or --private-key-file');
  return { password };
}

const defined = <T extends object>(value: T): Partial<T> =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;

function sftpSettings(o: EndpointOptions) {
  return defined({
    host: o.host,
    port: o.port,
    username: o.username,
    basePath: o.basePath,
    hostKeyFingerprint: o.hostKeyFingerprint,
    securityPolicy: o.securityPolicy as 'FIPS-2024' | undefined,
  });
}

function s3Settings(o: EndpointOptions) {
  return defined({
    bucket: o.bucket,
    prefix: o.prefix,
    region: o.bucketRegion as 'us-gov-west-1' | undefined,
    kmsKeyId: o.kmsKeyId,
    bucketOwner: o.bucketOwner,
  });
}

function requireOptions(o: EndpointOptions, names: Array<keyof EndpointOptions>, type: string) {
  const missing = names.filter((n) => o[n] === undefined);
  const flag = (n: string) => `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  if (missing.length) throw usageError(`a ${type} endpoint needs ${missing.map(flag).join(', ')}`);
}

/** The view's connection settings, whichever kind it is (the view's union does not narrow on them). */
const settingsOf = (e: EndpointView) =>
  e as {
    sftp?: { host: string; port: number; username: string; basePath: string; hostKeyFingerprint?: string };
    s3?: { bucket: string; prefix: string };
  };

function summaryLine(e: EndpointView): string {
  const { sftp, s3 } = settingsOf(e);
  const where = sftp
    ? `sftp://${sftp.username}@${sftp.host}:${sftp.port}${sftp.basePath}`
    : s3
      ? `s3://${s3.bucket}/${s3.prefix}`
      : '';
  return `${e.id}  ${e.name}  ${e.type} ${e.direction}  ${e.status}${e.statusReason ? ` (${e.statusReason})` : ''}  ${where}`;
}

async function create(context: Context, typeName: string, o: EndpointOptions) {
  const type = TYPES[typeName.toLowerCase() as keyof typeof TYPES];
  if (!type) throw usageError(`the endpoint type must be one of ${Object.keys(TYPES).join(', ')}, not ${typeName}`);
  requireOptions(o, ['name'], type);
  const client = await context.client();
  // Commands name endpoints by name: a second live one of the same name would make that ambiguous.
  const namesake = (await client.all<EndpointView>('/endpoints')).find(
    (e) => e.name === o.name?.trim() && e.status !== 'DISABLED',
  );
  if (namesake) {
    throw new CliError(
      `an endpoint named ${namesake.name} exists already (${namesake.id}, ${namesake.status}): use it, change it with ` +
        `eft endpoints update ${namesake.id}, or disable it first (eft endpoints disable ${namesake.id})`,
      EXIT.REFUSED,
      'NAME_TAKEN',
    );
  }
  const common = defined({
    name: o.name,
    direction: (o.direction ?? 'BOTH').toUpperCase() as 'BOTH',
    maxConcurrency: o.maxConcurrency,
    preferredRegion: o.preferredRegion as 'us-gov-west-1' | undefined,
  }) as { name: string; direction: 'BOTH' };
  let body: CreateEndpointInput;
  if (type === 'S3') {
    requireOptions(o, ['bucket'], type);
    const s3 = s3Settings(o) as { bucket: string; region: 'us-gov-west-1' };
    s3.region ??= (o.bucketRegion ?? context.options.region ?? 'us-gov-west-1') as 'us-gov-west-1';
    body = { type, ...common, s3 };
  } else {
    requireOptions(o, ['host', 'username'], type);
    const credentials = await credentialsOf(o, true, `${o.username}@${o.host}`);
    body = {
      type,
      ...common,
      sftp: sftpSettings(o) as { host: string; username: string },
      credentials: credentials as Credentials,
    };
  }
  const endpoint = await client.post<EndpointView>('/endpoints', body);
  context.out.result(endpoint, () => `${summaryLine(endpoint)}\nnext: eft endpoints validate ${endpoint.id}`);
  return EXIT.OK;
}

async function list(context: Context, o: { limit?: number; cursor?: string; all?: boolean }) {
  const client = await context.client();
  const page: Page<EndpointView> = o.all
    ? { items: await client.all<EndpointView>('/endpoints') }
    : await client.get<Page<EndpointView>>('/endpoints', { limit: o.limit, cursor: o.cursor });
  context.out.result(page, () => {
    const rows = page.items.map((e) => [e.id, e.name, e.type, e.direction, e.status]);
    const more = page.nextCursor ? `\nmore: eft endpoints list --cursor ${page.nextCursor}` : '';
    return `${table(['ID', 'NAME', 'TYPE', 'DIRECTION', 'STATUS'], rows)}${more}`;
  });
  return EXIT.OK;
}

async function get(context: Context, ref: string) {
  const client = await context.client();
  const endpoint = await client.get<EndpointView>(`/endpoints/${await endpointIdOf(client, ref)}`);
  context.out.result(endpoint, () => describe(endpoint));
  return EXIT.OK;
}

async function update(context: Context, ref: string, o: EndpointOptions) {
  if (o.activate && o.deactivate) throw usageError('give --activate or --deactivate, not both');
  const client = await context.client();
  const id = await endpointIdOf(client, ref);
  const sftp = sftpSettings(o);
  const s3 = s3Settings(o);
  const wantsCredentials = Boolean(o.passwordFile || o.privateKeyFile || o.promptPassword);
  const credentials = wantsCredentials ? await credentialsOf(o, false, id) : undefined;
  const patch: UpdateEndpointInput = defined({
    name: o.name,
    direction: o.direction?.toUpperCase() as 'BOTH' | undefined,
    maxConcurrency: o.maxConcurrency,
    preferredRegion: o.preferredRegion as 'us-gov-west-1' | undefined,
    status: o.activate ? 'ACTIVE' : o.deactivate ? 'DISABLED' : undefined,
    sftp: Object.keys(sftp).length ? sftp : undefined,
    s3: Object.keys(s3).length ? s3 : undefined,
    credentials,
  } as UpdateEndpointInput);
  if (Object.keys(patch).length === 0)
    throw usageError('nothing to change: name at least one setting (eft endpoints update --help)');
  const endpoint = await client.patch<EndpointView>(`/endpoints/${id}`, patch);
  context.out.result(endpoint, () => summaryLine(endpoint));
  return EXIT.OK;
}

async function disable(context: Context, ref: string) {
  const client = await context.client();
  const endpoint = await client.delete<EndpointView>(`/endpoints/${await endpointIdOf(client, ref)}`);
  context.out.result(endpoint, () => `${summaryLine(endpoint)}\nrunning jobs finish; new ones are refused`);
  return EXIT.OK;
}

/**
 * Validation, with trust on first use as the user's explicit step: an SFTP
 * endpoint with no pinned host key is probed, the key its server offers is
 * shown, and only once confirmed (at the prompt, or --yes) is it pinned and the
 * endpoint validated again. --fingerprint pins the one the user got from the
 * partner first, so the probe checks it.
 */
async function validate(context: Context, ref: string, o: { fingerprint?: string; yes?: boolean }) {
  if (o.fingerprint && !FINGERPRINT.test(o.fingerprint)) {
    throw usageError(
      `--fingerprint must be an OpenSSH SHA256 fingerprint (SHA256: and 43 base64 characters), not ${o.fingerprint}`,
    );
  }
  const client = await context.client();
  const id = await endpointIdOf(client, ref);
  const pin = (fingerprint: string) =>
    client.patch<EndpointView>(`/endpoints/${id}`, { sftp: { hostKeyFingerprint: fingerprint } });
  if (o.fingerprint) {
    const current = await client.get<EndpointView>(`/endpoints/${id}`);
    const { sftp } = settingsOf(current);
    if (!sftp) throw usageError(`${current.name} is an ${current.type} endpoint: only SFTP endpoints have a host key`);
    if (sftp.hostKeyFingerprint !== o.fingerprint) await pin(o.fingerprint);
  }
  let answer = await client.post<ValidationView>(`/endpoints/${id}/validate`);
  const first = answer.validation;
  if (!first.ok && first.reason === 'HOST_KEY_UNCONFIRMED' && first.offeredHostKeyFingerprint) {
    const offered = first.offeredHostKeyFingerprint;
    context.out.note(`${answer.endpoint.name} offers the host key ${offered}`);
    const trusted =
      o.yes || (await confirm('Is this the fingerprint your partner gave you? Trust it and pin it to the endpoint?'));
    if (!trusted) {
      context.out.result(answer, () => describe({ endpoint: answer.endpoint.id, status: answer.endpoint.status }));
      throw new CliError(
        `host key not confirmed: ${answer.endpoint.name} stays PENDING. Once you have checked the fingerprint with the partner: ` +
          `eft endpoints validate ${id} --fingerprint ${offered}`,
        EXIT.FAILED,
        'HOST_KEY_UNCONFIRMED',
      );
    }
    await pin(offered);
    answer = await client.post<ValidationView>(`/endpoints/${id}/validate`);
  }
  const { endpoint, validation } = answer;
  context.out.result(answer, () => {
    const lines = [summaryLine(endpoint)];
    if ('capabilities' in endpoint && endpoint.capabilities) lines.push(describe({ capabilities: endpoint.capabilities }));
    if (validation.ok && validation.warnings?.length) lines.push(...validation.warnings.map((w) => `warning: ${w}`));
    return lines.join('\n');
  });
  if (validation.ok) return EXIT.OK;
  const offered = validation.offeredHostKeyFingerprint ? ` (the server offers ${validation.offeredHostKeyFingerprint})` : '';
  const hint = hintFor(validation.reason, validation.message, id);
  throw new CliError(
    `${validation.reason}: ${validation.message}${offered}${hint ? `\n${hint}` : ''}`,
    EXIT.FAILED,
    validation.reason,
  );
}

async function audit(context: Context, ref: string, o: { limit?: number; cursor?: string }) {
  const client = await context.client();
  const id = await endpointIdOf(client, ref);
  const page = await client.get<Page<{ at: string; action: string; actor: string; details?: unknown }>>(
    `/endpoints/${id}/audit`,
    { limit: o.limit, cursor: o.cursor },
  );
  context.out.result(page, () => {
    const rows = page.items.map((e) => [e.at, e.action, e.actor]);
    const more = page.nextCursor ? `\nmore: eft endpoints audit ${ref} --cursor ${page.nextCursor}` : '';
    return `${table(['AT', 'ACTION', 'ACTOR'], rows)}${more}`;
  });
  return EXIT.OK;
}

function settingsOptions(command: Command): Command {
  return command
    .option('--name <name>', 'the endpoint name (what eft cp and the other commands can call it)')
    .option('--direction <direction>', 'OUTBOUND (a source), INBOUND (a target) or BOTH')
    .option('--max-concurrency <n>', 'at most this many jobs at once (1-64)', integer('--max-concurrency'))
    .option('--preferred-region <region>', 'the region that runs its jobs when both can')
    .option('--host <host>', 'SFTP: the server')
    .option('--port <port>', 'SFTP: the port (default 22)', integer('--port'))
    .option('--username <user>', 'SFTP: the login')
    .option('--base-path <path>', 'SFTP: the folder transfer paths are relative to (default /)')
    .option('--host-key-fingerprint <SHA256:…>', 'SFTP: the host key to pin, if the partner gave it to you')
    .option('--security-policy <name>', 'SFTP: the SSH algorithms allowed (README "SSH security policies")')
    .option('--password-file <file>', 'SFTP: read the password from this file')
    .option('--private-key-file <file>', 'SFTP: read the private key (PEM or OpenSSH) from this file')
    .option('--passphrase-file <file>', "SFTP: read the private key's passphrase from this file")
    .option('--bucket <bucket>', 'S3: the bucket')
    .option('--prefix <prefix>', 'S3: the key prefix transfer paths are relative to (e.g. in/)')
    .option('--bucket-region <region>', "S3: the bucket's region (default: --region, else us-gov-west-1)")
    .option('--kms-key-id <key>', 'S3: the KMS key objects are written with')
    .option('--bucket-owner <account>', "S3: the bucket owner's account (default: the caller's)");
}

export function endpointsCommand(program: Command): void {
  const endpoints = program.command('endpoints').description('register, validate and manage SFTP and S3 endpoints');
  settingsOptions(
    endpoints
      .command('create <type>')
      .description(
        'register an endpoint: <type> is sftp, s3 or transfer-family-sftp (SFTP asks for the password unless a file is given)',
      ),
  ).action(action(create));
  endpoints
    .command('list')
    .description('list your endpoints (a page at a time; --all for every one)')
    .option('--limit <n>', 'page size (1-100)', integer('--limit'))
    .option('--cursor <cursor>', 'the page after the one that printed it')
    .option('--all', 'every page')
    .action(action(list));
  endpoints.command('get <endpoint>').description('show an endpoint (by name or id)').action(action(get));
  settingsOptions(endpoints.command('update <endpoint>').description('change settings, rotate credentials, (de)activate'))
    .option('--prompt-password', 'SFTP: rotate the password, typed at a hidden prompt')
    .option('--activate', 'make a validated endpoint ACTIVE again')
    .option('--deactivate', 'stop it taking new jobs (status DISABLED)')
    .action(action(update));
  endpoints
    .command('disable <endpoint>')
    .description('disable an endpoint (DELETE): running jobs finish, new ones are refused')
    .action(action(disable));
  endpoints
    .command('validate <endpoint>')
    .description('connect and check it; an SFTP host key seen for the first time is shown for you to confirm')
    .option('--fingerprint <SHA256:…>', 'pin this host key (from the partner) and check the server offers it')
    .option('--yes', 'trust the host key the server offers without asking (scripts; prefer --fingerprint)')
    .action(action(validate));
  endpoints
    .command('audit <endpoint>')
    .description("an endpoint's audit trail: every change, when and by whom")
    .option('--limit <n>', 'page size (1-100)', integer('--limit'))
    .option('--cursor <cursor>', 'the page after the one that printed it')
    .action(action(audit));
}
