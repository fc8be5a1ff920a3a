/**
 * The SFTP session to one endpoint, kept in the transfer's Connections (one
 * job's, or a whole batch's: several files in flight on it): opened through the
 * injected factory (openSftp in production: SSRF guard, pinned host key,
 * TCP_NODELAY), with credentials read from the secret store at each connect
 * so a rotation between retries is picked up. After a failed attempt the
 * session is dropped and the next attempt connects afresh.
 */
import { posix } from 'node:path';
import type { EndpointCredentials, SecretStore } from '../../../domain/secrets';
import { securityPolicyOf } from '../../../domain/ssh-security-policies';
import { TransferError } from '../../../domain/transfer/errors';
import type { Connection } from '../../../domain/transfer/io';
import type { NetworkPolicy } from '../../net/network-policy';
import type { SftpSession } from '../connect';
import { scrubSecrets } from '../connect';
import type { SftpEndpoint } from '../location';
import type { GatedOpen } from '../session-gate';
import { isChannelClosed, SftpChannel } from './channel';

export interface SftpEndpointDeps {
  secrets: SecretStore;
  /** The driver's gate: a session slot of the endpoint (maxConcurrency), then openSftp. */
  open: GatedOpen;
  networkPolicy: NetworkPolicy;
  connectTimeoutMs: number;
}

export class SftpConnector implements Connection {
  private session: Promise<SftpSession> | undefined;
  private credentials: EndpointCredentials = {};
  /** Folders seen or made on the partner by this connector's files: checked once, not once per file. */
  private readonly folders = new Set<string>();
  /** "sftp://host:port", for messages and result locations. */
  readonly where: string;

  /**
   * `signal`: of the transfer that made this connector (for a batch, the first
   * file's, which aborts with the batch's stop): a session waits for a slot of
   * the partner until it aborts, however long the backlog.
   */
  constructor(
    private readonly deps: SftpEndpointDeps,
    readonly endpoint: SftpEndpoint,
    private readonly signal?: AbortSignal,
  ) {
    this.where = `sftp://${endpoint.sftp.host}:${endpoint.sftp.port}`;
  }

  /**
   * The open session, or a new one if there is none or its channel has closed.
   * Concurrent callers (a batch moves several files at once) share one session:
   * a transfer's connections never hold more than one session per endpoint, so
   * never more than the endpoint's maxConcurrency (which the gate enforces
   * across processes and regions; a new session waits there for a slot).
   */
  async connect(): Promise<{ session: SftpSession; channel: SftpChannel }> {
    let pending = this.session;
    if (pending) {
      const session = await pending.catch(() => undefined);
      if (!session || isChannelClosed(session.sftp)) {
        await this.reset(session);
        pending = undefined;
      }
    }
    if (!pending) {
      pending = this.open();
      this.session = pending;
      // A failed connect is not kept: the next caller tries again.
      pending.catch(() => {
        if (this.session === pending) this.session = undefined;
      });
    }
    const session = await pending;
    return { session, channel: new SftpChannel(session.sftp, this.where) };
  }

  private async open(): Promise<SftpSession> {
    const settings = this.endpoint.sftp;
    if (!this.endpoint.secretRef) {
      throw new TransferError('AUTH_FAILED', `endpoint ${this.endpoint.endpointId} has no credentials configured`);
    }
    this.credentials = await this.deps.secrets.read(this.endpoint.secretRef);
    const target = {
      host: settings.host,
      port: settings.port,
      username: settings.username,
      credentials: this.credentials,
      ...(settings.hostKeyFingerprint ? { hostKeyFingerprint: settings.hostKeyFingerprint } : {}),
      securityPolicy: securityPolicyOf(settings),
      networkPolicy: this.deps.networkPolicy,
      readyTimeoutMs: this.deps.connectTimeoutMs,
    };
    const session = await this.deps.open(this.endpoint, target, {
      purpose: 'transfer',
      ...(this.signal ? { signal: this.signal } : {}),
    });
    // Every file in flight on a shared session watches it for loss (onChannelLost): not a leak.
    session.sftp.setMaxListeners(0);
    return session;
  }

  /**
   * Closes the session; the next connect() opens a new one. Given the session
   * an attempt failed on, it leaves a newer one (that another file's retry
   * opened meanwhile) alone.
   */
  async reset(failed?: SftpSession): Promise<void> {
    const pending = this.session;
    if (!pending) return;
    const current = await pending.catch(() => undefined);
    if (failed && current !== failed) return;
    if (this.session === pending) this.session = undefined;
    // The files that failed on it at once all get here; the session closes once and they all wait for it (connect.ts).
    await current?.close();
  }

  close(): Promise<void> {
    return this.reset();
  }

  /** Makes sure the folder exists (mkdir -p), once per folder for all the files this connector serves. */
  async ensureFolder(channel: SftpChannel, folder: string): Promise<void> {
    if (this.folders.has(folder)) return;
    await channel.ensureFolder(folder);
    this.folders.add(folder);
  }

  /** Removes this endpoint's secrets from a message (a second line of defence). */
  scrub(message: string): string {
    return scrubSecrets(message, this.credentials);
  }

  /** The location string recorded in results. */
  locationOf(path: string): string {
    return `${this.where}${posix.normalize(path)}`;
  }
}
