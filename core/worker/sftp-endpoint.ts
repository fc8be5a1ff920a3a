/**
 * SFTP sessions to one endpoint for the length of a hop: opened through the
 * injected factory (openSftp in production: SSRF guard, pinned host key,
 * TCP_NODELAY), with credentials read from the secret store at each connect
 * so a rotation between retries is picked up. After a failed attempt the
 * session is dropped and the next attempt connects afresh.
 */
import { posix } from 'node:path';
import type { SftpCredentials, SftpSession, SftpTarget } from '../adapters/sftp/connect';
import { scrubSecrets } from '../adapters/sftp/connect';
import type { NetworkPolicy } from '../connectivity/network-policy';
import type { Endpoint } from '../domain/endpoint';
import type { SecretStore } from '../domain/secrets';
import { TransferError } from './errors';
import { isChannelClosed, SftpChannel } from './sftp-channel';

export type OpenSftpSession = (target: SftpTarget) => Promise<SftpSession>;

export interface SftpEndpointDeps {
  secrets: SecretStore;
  openSftp: OpenSftpSession;
  networkPolicy: NetworkPolicy;
  connectTimeoutMs: number;
}

export class SftpConnector {
  private session: SftpSession | undefined;
  private credentials: SftpCredentials = {};
  /** "sftp://host:port", for messages and result locations. */
  readonly where: string;

  constructor(
    private readonly deps: SftpEndpointDeps,
    readonly endpoint: Endpoint,
  ) {
    if (!endpoint.sftp) throw new TransferError('ENDPOINT_INVALID', `endpoint ${endpoint.endpointId} has no SFTP settings`);
    this.where = `sftp://${endpoint.sftp.host}:${endpoint.sftp.port}`;
  }

  /** The open session, or a new one if there is none or its channel has closed. */
  async connect(): Promise<{ session: SftpSession; channel: SftpChannel }> {
    if (this.session && isChannelClosed(this.session.sftp)) await this.reset();
    if (!this.session) {
      const settings = this.endpoint.sftp as NonNullable<Endpoint['sftp']>;
      if (!this.endpoint.secretRef) {
        throw new TransferError('AUTH_FAILED', `endpoint ${this.endpoint.endpointId} has no credentials configured`);
      }
      this.credentials = await this.deps.secrets.read(this.endpoint.secretRef);
      this.session = await this.deps.openSftp({
        host: settings.host,
        port: settings.port,
        username: settings.username,
        credentials: this.credentials,
        ...(settings.hostKeyFingerprint ? { hostKeyFingerprint: settings.hostKeyFingerprint } : {}),
        networkPolicy: this.deps.networkPolicy,
        readyTimeoutMs: this.deps.connectTimeoutMs,
      });
    }
    return { session: this.session, channel: new SftpChannel(this.session.sftp, this.where) };
  }

  /** Closes the current session, if any; the next connect() opens a new one. */
  async reset(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.close();
  }

  /** Removes this endpoint's secrets from a message (a second line of defence). */
  scrub(message: string): string {
    return scrubSecrets(message, this.credentials);
  }

  /** The location string recorded in results. */
  locationOf(path: string): string {
    return `${this.where}${posix.normalize(path)}`;
  }

  /** Whether the server advertised an SFTP extension (e.g. fsync@openssh.com). */
  supports(extension: string): boolean {
    return this.session ? extension in this.session.supportedExtensions : false;
  }
}
