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
import type { SftpSession, SftpTarget } from '../connect';
import { scrubSecrets } from '../connect';
import type { SftpEndpoint } from '../location';
import { isChannelClosed, SftpChannel } from './channel';

export type OpenSftpSession = (target: SftpTarget) => Promise<SftpSession>;

export interface SftpEndpointDeps {
  secrets: SecretStore;
  openSftp: OpenSftpSession;
  networkPolicy: NetworkPolicy;
  connectTimeoutMs: number;
}

export class SftpConnector implements Connection {
  private session: Promise<SftpSession> | undefined;
  private credentials: EndpointCredentials = {};
  /** "sftp://host:port", for messages and result locations. */
  readonly where: string;

  constructor(
    private readonly deps: SftpEndpointDeps,
    readonly endpoint: SftpEndpoint,
  ) {
    this.where = `sftp://${endpoint.sftp.host}:${endpoint.sftp.port}`;
  }

  /**
   * The open session, or a new one if there is none or its channel has closed.
   * Concurrent callers (a batch moves several files at once) share one session.
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
    const session = await this.deps.openSftp({
      host: settings.host,
      port: settings.port,
      username: settings.username,
      credentials: this.credentials,
      ...(settings.hostKeyFingerprint ? { hostKeyFingerprint: settings.hostKeyFingerprint } : {}),
      securityPolicy: securityPolicyOf(settings),
      networkPolicy: this.deps.networkPolicy,
      readyTimeoutMs: this.deps.connectTimeoutMs,
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
    await current?.close();
  }

  close(): Promise<void> {
    return this.reset();
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
