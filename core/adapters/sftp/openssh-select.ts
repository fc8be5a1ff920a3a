/**
 * Which SSH layer the engine's SFTP sessions use: ssh2 in the process
 * (openSftp, the default) or, with EFT_SFTP_TRANSPORT=openssh, an OpenSSH
 * `ssh -s sftp` child (openssh-transport.ts; issue 18's evaluation, see
 * docs/benchmarks.md). Only where `ssh` is installed (the worker image with
 * openssh-client); Lambda has none and leaves the setting unset.
 */
import { openSftp, type SftpSession, type SftpTarget } from './connect';
import { openSftpOverSsh } from './openssh-transport';

export type SftpOpener = (target: SftpTarget) => Promise<SftpSession>;

export function sftpOpenerFromEnv(env: NodeJS.ProcessEnv = process.env): SftpOpener {
  const transport = env.EFT_SFTP_TRANSPORT;
  if (transport === undefined || transport === '' || transport === 'ssh2') return (target) => openSftp(target);
  if (transport === 'openssh') return (target) => openSftpOverSsh(target);
  throw new Error(`EFT_SFTP_TRANSPORT is ssh2 (the default) or openssh, not '${transport}'`);
}
