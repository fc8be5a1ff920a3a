import type SftpClient from 'ssh2-sftp-client';
import type { EndpointDriver, FileMove, SourceActionResult } from '../../domain/drivers';
import type { Endpoint, ProbeOutcome } from '../../domain/endpoint';
import { UnsupportedEndpointError } from '../../domain/errors';
import type { Location } from '../../domain/location';
import type { DestinationState, SourceFile } from '../../domain/ports';
import type { EndpointCredentials, SecretStore } from '../../domain/secrets';
import { type SessionSlots, UNLIMITED_SESSIONS } from '../../domain/session-slots';
import { securityPolicyOf } from '../../domain/ssh-security-policies';
import type { Connections, FileSource, FileTarget, TargetOptions, TransferIo } from '../../domain/transfer/io';
import { FolderListing } from '../folder-listing';
import type { NetworkPolicy } from '../net/network-policy';
import { inspectFile, listFolder, statFile } from './catalog';
import type { SftpSession, SftpTarget } from './connect';
import { isSftpLocation, resolveSftpLocation, type SftpEndpoint, type SftpPathLocation } from './location';
import { sftpOpenerFromEnv } from './openssh-select';
import { probeSftp } from './probe';
import { type GatedOpen, sessionGate } from './session-gate';
import { channelOf, moveFiles, removeFiles } from './source-actions';
import { type SftpDataPlane, sftpDataPlane } from './transfer/driver';

export interface SftpDriverDeps {
  secrets: SecretStore;
  networkPolicy: NetworkPolicy;
  /** How sessions are opened; openSftp (SSRF guard, pinned host key) unless a caller shares its own. */
  openSftp?: (target: SftpTarget) => Promise<SftpSession>;
  /** The worker's budget to open one session (DNS, TCP, SSH handshake, authentication). */
  connectTimeoutMs?: number;
  /**
   * The partners' session slots (maxConcurrency), taken before every session
   * this driver opens. Unlimited only where nothing else shares the partner (tests, tools).
   */
  slots?: SessionSlots;
  /** The region recorded with a slot (whoever reads the table sees who holds it). */
  region?: string;
  /**
   * How long an operation outside a transfer (validation, list, stat, inspect)
   * waits for a slot before PartnerBusyError (503 PARTNER_BUSY): the API answers
   * within seconds. Transfers (the worker) wait as long as their job allows.
   */
  slotWaitMs?: number;
  /**
   * The same for verification (inspect, the state machine's VerifyTransfer, whose
   * Lambda has 120 s): longer, since a busy partner must not fail a delivered job.
   */
  inspectSlotWaitMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
export const DEFAULT_SLOT_WAIT_MS = 5_000;
export const DEFAULT_INSPECT_SLOT_WAIT_MS = 60_000;

/** SFTP endpoints (a partner's server, or AWS Transfer Family): a base path on a server the engine logs in to. */
export class SftpDriver implements EndpointDriver {
  readonly types = ['SFTP', 'TRANSFER_FAMILY_SFTP'] as const;
  readonly kind = 'SFTP';
  /** A partner's server may lose or truncate a file: a copy between two of them is staged in S3. */
  readonly durable = false;

  /** The worker's half: files as sources and targets of streamed copies, over sessions a batch shares (./transfer). */
  private readonly data: SftpDataPlane;

  /** Every session of this driver opens here: a slot of the endpoint first (./session-gate.ts). */
  private readonly open: GatedOpen;

  constructor(private readonly deps: SftpDriverDeps) {
    this.open = sessionGate(deps.openSftp ?? sftpOpenerFromEnv(), deps.slots ?? UNLIMITED_SESSIONS, deps.region ?? 'unknown');
    this.data = sftpDataPlane({
      secrets: deps.secrets,
      networkPolicy: deps.networkPolicy,
      open: this.open,
      connectTimeoutMs: deps.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    });
  }

  resolve(endpoint: Endpoint, relativePath: string): SftpPathLocation {
    return resolveSftpLocation(this.own(endpoint), relativePath);
  }

  /** The same path on the same files: two endpoints reach the same files when they log in to the same server as the same user. */
  samePlace(a: Endpoint, from: Location, b: Endpoint, to: Location): boolean {
    return isSftpLocation(from) && isSftpLocation(to) && from.path === to.path && sameTree(this.own(a), this.own(b));
  }

  probe(endpoint: Endpoint, credentials: EndpointCredentials | undefined): Promise<ProbeOutcome> {
    const own = this.own(endpoint);
    const { sftp } = own;
    const { host, port, username, hostKeyFingerprint, basePath } = sftp;
    return probeSftp(
      {
        host,
        port,
        username,
        hostKeyFingerprint,
        securityPolicy: securityPolicyOf(sftp),
        credentials: credentials ?? {},
        networkPolicy: this.deps.networkPolicy,
      },
      basePath,
      { open: (target) => this.open(own, target, this.boundedWait('validate')) },
    );
  }

  stat(endpoint: Endpoint, location: Location, path: string): Promise<SourceFile | undefined> {
    const file = this.located(location);
    return this.withSession(endpoint, (client) => statFile(client, file, path), 'stat');
  }

  list(endpoint: Endpoint, folder: Location, folderPath: string, pattern: string | undefined, limit: number) {
    const directory = this.located(folder);
    return this.withSession(
      endpoint,
      (client) => listFolder(client, directory, new FolderListing(folderPath, pattern, limit)),
      'list',
    );
  }

  inspect(endpoint: Endpoint, location: Location, connections?: Connections): Promise<DestinationState | undefined> {
    if (connections) return this.data.inspectOver(this.own(endpoint), location, connections);
    const file = this.located(location);
    return this.withSession(endpoint, (client) => inspectFile(client, file), 'inspect');
  }

  /** A schedule's DELETE after-transfer action: the files removed over one session (./source-actions.ts). */
  removeFiles(endpoint: Endpoint, files: readonly Location[]): Promise<SourceActionResult[]> {
    return this.withSession(
      endpoint,
      (client) => removeFiles(channelOf(client, sftpWhere(this.own(endpoint))), files),
      'after-transfer',
    );
  }

  /** A schedule's MOVE after-transfer action: the files renamed into the archive folder over one session. */
  moveFiles(
    endpoint: Endpoint,
    moves: readonly FileMove[],
    options: { createDirectories: boolean },
  ): Promise<SourceActionResult[]> {
    return this.withSession(
      endpoint,
      (client) => moveFiles(channelOf(client, sftpWhere(this.own(endpoint))), moves, options),
      'after-transfer',
    );
  }

  openSource(endpoint: Endpoint, location: Location, io: TransferIo): FileSource {
    return this.data.openSource(endpoint, location, io);
  }

  openTarget(endpoint: Endpoint, location: Location, io: TransferIo, options: TargetOptions): FileTarget {
    return this.data.openTarget(endpoint, location, io, options);
  }

  /** A wait for a slot outside transfers: bounded, then PartnerBusyError. */
  private boundedWait(purpose: string) {
    const waitMs =
      purpose === 'inspect'
        ? (this.deps.inspectSlotWaitMs ?? Math.max(DEFAULT_INSPECT_SLOT_WAIT_MS, this.deps.slotWaitMs ?? 0))
        : (this.deps.slotWaitMs ?? DEFAULT_SLOT_WAIT_MS);
    return { waitMs, purpose };
  }

  /**
   * One session per request, with the credentials as they are now (a rotation is picked up at once),
   * in a slot of the endpoint's partner (waited for within slotWaitMs).
   */
  private async withSession<T>(endpoint: Endpoint, work: (client: SftpClient) => Promise<T>, purpose = 'request'): Promise<T> {
    const own = this.own(endpoint);
    const { sftp, secretRef } = own;
    const credentials = secretRef ? await this.deps.secrets.read(secretRef) : {};
    const session = await this.open(
      own,
      { ...sftp, securityPolicy: securityPolicyOf(sftp), credentials, networkPolicy: this.deps.networkPolicy },
      this.boundedWait(purpose),
    );
    try {
      return await work(session.client);
    } finally {
      await session.close();
    }
  }

  private own(endpoint: Endpoint): SftpEndpoint {
    if (endpoint.type !== 'SFTP' && endpoint.type !== 'TRANSFER_FAMILY_SFTP') {
      throw new UnsupportedEndpointError(endpoint.endpointId, endpoint.type);
    }
    return endpoint;
  }

  private located(location: Location): SftpPathLocation {
    if (!isSftpLocation(location)) throw new Error(`the SFTP driver was handed a location it did not resolve: ${location.uri}`);
    return location;
  }
}

function sameTree(a: SftpEndpoint, b: SftpEndpoint): boolean {
  if (a.endpointId === b.endpointId) return true;
  return (
    a.sftp.host.toLowerCase() === b.sftp.host.toLowerCase() && a.sftp.port === b.sftp.port && a.sftp.username === b.sftp.username
  );
}

/** "sftp://host:port", for messages. */
function sftpWhere(endpoint: SftpEndpoint): string {
  return `sftp://${endpoint.sftp.host}:${endpoint.sftp.port}`;
}
