/** A file on an SFTP server as a transfer's source: the pipelined reader (SftpReadStream) from an offset. */
import type { Readable } from 'node:stream';
import { TransferError } from '../../../domain/transfer/errors';
import type { FileSource, TransferIo } from '../../../domain/transfer/io';
import { retryingIn } from '../../../domain/transfer/retry';
import type { SftpSession } from '../connect';
import { endChannels, moreChannelsFor, sftpFailure, sftpStatus } from './channel';
import type { SftpConnector } from './connector';
import { sha256OfSftpFile } from './content-hash';
import { SftpReadStream } from './read-stream';

export class SftpFileSource implements FileSource {
  readonly location: string;
  /** The session of the latest attempt: a reset after it failed leaves a newer one (another file's) alone. */
  private session: SftpSession | undefined;

  constructor(
    private readonly connector: SftpConnector,
    private readonly path: string,
    private readonly io: TransferIo,
  ) {
    this.location = connector.locationOf(path);
  }

  /** SFTP has no version to pin reads to: a file that changes size fails the copy (SOURCE_CHANGED). */
  stat(): Promise<number> {
    const { connector, path } = this;
    return retryingIn(this.io, `stat ${this.location}`, async () => {
      let session: SftpSession | undefined;
      try {
        const connected = await connector.connect();
        session = connected.session;
        const stats = await connected.channel.stat(path);
        if (!stats.isFile()) {
          throw new TransferError('SOURCE_NOT_A_FILE', `the source ${path} on ${connector.where} is not a regular file`);
        }
        return stats.size;
      } catch (err) {
        const failure = sftpFailure(err, 'source', path, connector.where);
        if (failure.retryable) await connector.reset(session);
        throw failure;
      }
    });
  }

  async open(offset: number, size: number): Promise<Readable> {
    const { tunables } = this.io;
    this.session = undefined;
    const { session } = await this.connector.connect();
    this.session = session;
    const moreChannels = await moreChannelsFor(session, size - offset, tunables.sftpReadChannels, tunables);
    const reader = new SftpReadStream(session.sftp, this.path, {
      start: offset,
      size,
      requestBytes: tunables.sftpRequestBytes,
      maxInFlight: tunables.sftpMaxInFlight,
      where: this.connector.where,
      moreChannels,
    });
    reader.once('close', () => endChannels(moreChannels));
    return reader;
  }

  sha256(): Promise<string> {
    return sha256OfSftpFile(this.io, this.connector, this.path, 'source');
  }

  failure(error: unknown): unknown {
    return sftpStatus(error) === undefined ? error : sftpFailure(error, 'source', this.path, this.connector.where);
  }

  reset(): Promise<void> {
    return this.connector.reset(this.session);
  }
}
