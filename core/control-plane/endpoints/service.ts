import { randomUUID } from 'node:crypto';
import type { Actor } from '../../domain/actor';
import { accountOf } from '../../domain/aws-account';
import type { Clock } from '../../domain/clock';
import type { Drivers } from '../../domain/drivers';
import type { Endpoint, S3Location, SftpLocation } from '../../domain/endpoint';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import { sha256Hex } from '../../domain/ids';
import type { AuditLog, EndpointChanges, EndpointStore, Page, PageRequest } from '../../domain/ports';
import type { SecretStore } from '../../domain/secrets';
import { securityPolicyOf } from '../../domain/ssh-security-policies';
import type { CreateEndpointRequest, UpdateEndpointRequest } from './schemas';
import { type EndpointView, toAuditEventView, toValidationView, toView, type ValidationView } from './view';

export interface EndpointDeps {
  endpoints: EndpointStore;
  audit: AuditLog;
  secrets: SecretStore;
  drivers: Drivers;
  clock: Clock;
  /** Secrets are named `<prefix>/<customer>/<uuid>`, e.g. eft/prod/endpoints. */
  secretNamePrefix: string;
  /** Why a host may not be used (SSRF guard at input time), or undefined if it may. */
  refuseHost(host: string): string | undefined;
  /** The AWS accounts a customer controls: those of the principals the operators registered to it. */
  customerAccounts(customerId: string): Promise<string[]>;
  /** The engine's own account: its buckets are never a customer's endpoint. */
  engineAccountId: string;
}

function checkHost(deps: EndpointDeps, host: string | undefined): void {
  const refusal = host === undefined ? undefined : deps.refuseHost(host);
  if (refusal) throw new ValidationError([{ field: 'sftp.host', message: refusal }]);
}

/**
 * Bucket ownership (README "Bucket ownership"): an S3 endpoint's bucket must be
 * owned by an account the customer controls, since every S3 request for it
 * names that account as the expected owner. By default the account of the
 * principal registering the endpoint; any other must be an account of one of
 * the principals registered to the same customer, never one the request
 * merely claims.
 */
async function checkedBucketOwner(deps: EndpointDeps, actor: Actor, requested: string | undefined): Promise<string> {
  const owner = requested ?? accountOf(actor.principalArn);
  const refuse = (message: string) => new ValidationError([{ field: 's3.bucketOwner', message }]);
  if (!owner) throw refuse('is required: the caller is not an IAM principal of an AWS account');
  if (owner === deps.engineAccountId) throw refuse("is the engine's own account, whose buckets are not customer endpoints");
  const accounts = await deps.customerAccounts(actor.customerId);
  if (!accounts.includes(owner)) {
    throw refuse(
      `is not an account of yours: name one of ${accounts.join(', ')}, or have the operator register a principal of ${owner}`,
    );
  }
  return owner;
}

/** The connection settings of the kinds the API accepts (ENDPOINT_TYPES), which it creates and edits. */
interface ConnectionSettings {
  s3?: S3Location;
  sftp?: SftpLocation;
}

/** A kind the API does not accept (a test-only one) has none: the API cannot change its settings either. */
function connectionSettings(endpoint: Endpoint): ConnectionSettings {
  return { ...('s3' in endpoint ? { s3: endpoint.s3 } : {}), ...('sftp' in endpoint ? { sftp: endpoint.sftp } : {}) };
}

/**
 * Validation is bound to what was validated: a change of host, path, bucket,
 * SSH security policy… needs a new one. Stored on the endpoint
 * (validation.settingsHash), so its input stays as it is, except that the SFTP
 * settings count with their effective security policy: naming the default on
 * an endpoint stored without one changes nothing, and a validation from before
 * policies existed (made with ssh2's defaults) does not count for activation.
 */
function settingsHash(endpoint: ConnectionSettings): string {
  const sftp = endpoint.sftp ? { ...endpoint.sftp, securityPolicy: securityPolicyOf(endpoint.sftp) } : null;
  return sha256Hex(JSON.stringify([endpoint.s3 ?? null, sftp]));
}

async function load(deps: EndpointDeps, actor: Actor, endpointId: string): Promise<Endpoint> {
  const endpoint = await deps.endpoints.get(actor.customerId, endpointId);
  // Another customer's endpoint is indistinguishable from a missing one.
  if (!endpoint) throw new NotFoundError(`endpoint ${endpointId} not found`);
  return endpoint;
}

export async function createEndpoint(deps: EndpointDeps, actor: Actor, request: CreateEndpointRequest): Promise<EndpointView> {
  const base = {
    customerId: actor.customerId,
    name: request.name,
    direction: request.direction,
    status: 'PENDING' as const,
    maxConcurrency: request.maxConcurrency,
    ...(request.preferredRegion ? { preferredRegion: request.preferredRegion } : {}),
  };
  if (request.type === 'S3') {
    const s3 = { ...request.s3, bucketOwner: await checkedBucketOwner(deps, actor, request.s3.bucketOwner) };
    return toView(await deps.endpoints.create({ ...base, type: 'S3', s3 }, actor.principalArn));
  }
  checkHost(deps, request.sftp.host);
  const secretRef = await deps.secrets.create(
    `${deps.secretNamePrefix}/${actor.customerId}/${randomUUID()}`,
    request.credentials,
    {
      customer: actor.customerId,
    },
  );
  try {
    const endpoint = await deps.endpoints.create(
      {
        ...base,
        type: request.type,
        secretRef,
        credentialsUpdatedAt: new Date(deps.clock.now()).toISOString(),
        sftp: { ...request.sftp, authType: request.credentials.privateKey ? 'PRIVATE_KEY' : 'PASSWORD' },
      },
      actor.principalArn,
    );
    return toView(endpoint);
  } catch (error) {
    await deps.secrets.remove(secretRef).catch(() => undefined);
    throw error;
  }
}

export async function getEndpoint(deps: EndpointDeps, actor: Actor, endpointId: string): Promise<EndpointView> {
  return toView(await load(deps, actor, endpointId));
}

export async function listEndpoints(deps: EndpointDeps, actor: Actor, page: PageRequest): Promise<Page<EndpointView>> {
  const result = await deps.endpoints.list(actor.customerId, page);
  return { ...result, items: result.items.map(toView) };
}

export async function updateEndpoint(
  deps: EndpointDeps,
  actor: Actor,
  endpointId: string,
  patch: UpdateEndpointRequest,
): Promise<EndpointView> {
  const current = await load(deps, actor, endpointId);
  const settings = connectionSettings(current);
  const isS3 = current.type === 'S3';
  if (patch.s3 && !isS3) throw new ValidationError([{ field: 's3', message: `does not apply to a ${current.type} endpoint` }]);
  if ((patch.sftp || patch.credentials) && isS3) {
    throw new ValidationError([{ field: patch.sftp ? 'sftp' : 'credentials', message: 'does not apply to an S3 endpoint' }]);
  }

  checkHost(deps, patch.sftp?.host);
  const { status, s3, sftp, credentials, ...plain } = patch;
  const changes: EndpointChanges = { ...plain };
  const next: ConnectionSettings = {
    s3:
      s3 && settings.s3
        ? {
            ...settings.s3,
            ...s3,
            // An endpoint registered before ownership was enforced gets the caller's account unless the patch names one.
            bucketOwner: await checkedBucketOwner(deps, actor, s3.bucketOwner ?? settings.s3.bucketOwner),
          }
        : settings.s3,
    sftp:
      (sftp || credentials) && settings.sftp
        ? {
            ...settings.sftp,
            ...sftp,
            ...(credentials ? { authType: credentials.privateKey ? ('PRIVATE_KEY' as const) : ('PASSWORD' as const) } : {}),
          }
        : settings.sftp,
  };
  const settingsChanged = settingsHash(next) !== settingsHash(settings);
  if (JSON.stringify(next.s3) !== JSON.stringify(settings.s3)) changes.s3 = next.s3;
  if (JSON.stringify(next.sftp) !== JSON.stringify(settings.sftp)) changes.sftp = next.sftp;
  if (settingsChanged) {
    // New connection settings are unproven: the endpoint takes no new jobs until validated again.
    Object.assign(changes, { status: 'PENDING', statusReason: 'connection settings changed; validate the endpoint' });
  }

  let action = 'endpoint.updated';
  if (status === 'ACTIVE') {
    if (!current.validation?.ok || current.validation.settingsHash !== settingsHash(next)) {
      throw new ConflictError('the endpoint must pass validation before it can be activated', 'NOT_VALIDATED');
    }
    Object.assign(changes, { status: 'ACTIVE', statusReason: undefined });
    action = 'endpoint.activated';
  } else if (status === 'DISABLED') {
    Object.assign(changes, { status: 'DISABLED', statusReason: 'disabled by the customer' });
    action = 'endpoint.deactivated';
  }

  if (credentials) {
    // A new version of the same secret: jobs started from now on read it; none need recreating.
    if (!current.secretRef) throw new ConflictError('the endpoint has no credentials to rotate', 'NO_SECRET');
    await deps.secrets.putVersion(current.secretRef, credentials);
    changes.credentialsUpdatedAt = new Date(deps.clock.now()).toISOString();
    if (action === 'endpoint.updated' && Object.keys(changes).length === 1) action = 'endpoint.credentials_rotated';
  }
  return toView(await deps.endpoints.update(actor.customerId, endpointId, current.version, changes, actor.principalArn, action));
}

/** DELETE disables: running jobs finish, new jobs are refused; the record and its audit trail stay. */
export async function disableEndpoint(deps: EndpointDeps, actor: Actor, endpointId: string): Promise<EndpointView> {
  const current = await load(deps, actor, endpointId);
  if (current.status === 'DISABLED') return toView(current);
  const changes: EndpointChanges = { status: 'DISABLED', statusReason: 'deleted by the customer' };
  return toView(
    await deps.endpoints.update(actor.customerId, endpointId, current.version, changes, actor.principalArn, 'endpoint.disabled'),
  );
}

export async function validateEndpoint(deps: EndpointDeps, actor: Actor, endpointId: string): Promise<ValidationView> {
  const current = await load(deps, actor, endpointId);
  const credentials = current.secretRef ? await deps.secrets.read(current.secretRef) : undefined;
  const outcome = await deps.drivers.driverFor(current).probe(current, credentials);
  const at = new Date(deps.clock.now()).toISOString();
  const validation = outcome.ok
    ? { ok: true, at, settingsHash: settingsHash(connectionSettings(current)) }
    : {
        ok: false,
        at,
        settingsHash: settingsHash(connectionSettings(current)),
        reason: outcome.reason,
        message: outcome.message,
        ...(outcome.offeredHostKeyFingerprint ? { offeredHostKeyFingerprint: outcome.offeredHostKeyFingerprint } : {}),
      };
  const changes: EndpointChanges = { validation };
  if (current.status !== 'DISABLED') {
    if (outcome.ok) {
      Object.assign(changes, { status: 'ACTIVE', statusReason: undefined, capabilities: outcome.capabilities });
    } else if (outcome.reason === 'HOST_KEY_UNCONFIRMED') {
      // Trust on first use is the customer's explicit step: pin the offered key, then validate again.
      Object.assign(changes, { status: 'PENDING', statusReason: outcome.message });
    } else {
      Object.assign(changes, { status: 'VALIDATION_FAILED', statusReason: outcome.message });
    }
  }
  const action = outcome.ok ? 'endpoint.validated' : 'endpoint.validation_failed';
  const endpoint = await deps.endpoints.update(
    actor.customerId,
    endpointId,
    current.version,
    changes,
    actor.principalArn,
    action,
  );
  return toValidationView(endpoint, outcome);
}

export async function endpointAudit(deps: EndpointDeps, actor: Actor, endpointId: string, page: PageRequest) {
  await load(deps, actor, endpointId);
  const trail = await deps.audit.list(`endpoint#${endpointId}`, page);
  return { ...trail, items: trail.items.map(toAuditEventView) };
}
