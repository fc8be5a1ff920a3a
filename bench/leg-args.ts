/** The SFTP leg's arguments (bench/eft-sftp-leg.ts) against a private sshd on loopback, for the A/B scripts. */
import type { Sshd } from '../tests/support/sshd';
import type { LegArgs } from './eft-sftp-leg';

export function loopbackLegArgs(
  sshd: Sshd,
  privateKeyPath: string,
  direction: LegArgs['direction'],
  files: { remote: string; local: string },
  more: Pick<LegArgs, 'transport' | 'bare'> = {},
): LegArgs {
  return {
    direction,
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKeyPath,
    hostKeyFingerprint: sshd.hostKeyFingerprint,
    securityPolicy: 'FIPS-2024',
    remotePath: files.remote,
    localPath: files.local,
    allowedCidrs: ['127.0.0.0/8'],
    ...more,
  };
}
