/**
 * SHA-256 of a file at rest on an SFTP server, for the no-overwrite decision:
 * read with the same pipelining and retries as a transfer, restarting from
 * the first byte (this is the rare path). check-file is not used: neither
 * OpenSSH nor common partner servers implement it.
 */
import type { TransferIo } from '../../../domain/transfer/io';
import { retryingIn } from '../../../domain/transfer/retry';
import { sha256OfStream } from '../../../domain/transfer/sha256';
import type { SftpSession } from '../connect';
import { sftpFailure } from './channel';
import type { SftpConnector } from './connector';
import { SftpReadStream } from './read-stream';

export function sha256OfSftpFile(
  io: Pick<TransferIo, 'signal' | 'logger' | 'tunables'>,
  connector: SftpConnector,
  path: string,
  role: 'source' | 'target',
): Promise<string> {
  const { tunables } = io;
  return retryingIn(io, `hash ${connector.locationOf(path)}`, async () => {
    let session: SftpSession | undefined;
    try {
      ({ session } = await connector.connect());
      const reader = new SftpReadStream(session.sftp, path, {
        requestBytes: tunables.sftpRequestBytes,
        maxInFlight: tunables.sftpMaxInFlight,
        where: connector.where,
      });
      return await sha256OfStream(reader, { signal: io.signal, stallTimeoutMs: tunables.stallTimeoutMs });
    } catch (err) {
      const failure = sftpFailure(err, role, path, connector.where);
      if (failure.retryable) await connector.reset(session);
      throw failure;
    }
  });
}
