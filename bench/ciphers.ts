/**
 * What each client really negotiates: a throw-away sshd (the same setup,
 * OpenSSH's default offer, LogLevel DEBUG1) prints "kex: algorithm: …" and
 * "kex: client->server cipher: …" for every connection, and each client
 * connects once, in turn. OpenSSH gets the cipher pinned with -c; rclone 1.60
 * takes its default preference; the worker's openSftp (ssh2) connects once per
 * SSH security policy, with that policy's algorithm lists, as an endpoint's
 * `sftp.securityPolicy` chooses them.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SSH_SECURITY_POLICY_NAMES, type SshSecurityPolicyName } from '../core/domain/ssh-security-policies';
import { startSshd } from '../tests/support/sshd';
import type { BenchContext } from './context';
import type { LegArgs } from './eft-sftp-leg';
import { CONTAINER_ENV } from './engine';
import { observe } from './measure';
import { hostPublicKeyOf, rcloneCommand, rcloneEnv, type SftpServerRef, sftpCommand, writeKnownHosts } from './peers';
import { sleep } from './util';

/** What one connection negotiated, as sshd logged it. */
export interface Negotiated {
  kex?: string;
  hostKey?: string;
  cipher?: string;
  mac?: string;
}

export interface NegotiatedCiphers {
  'openssh-sftp'?: Negotiated;
  rclone?: Negotiated;
  /** eft per SSH security policy (every policy, whatever --policies runs). */
  eft?: Partial<Record<SshSecurityPolicyName, Negotiated>>;
}

const KEX_LINE = /kex: algorithm: (\S+)/g;
const HOST_KEY_LINE = /kex: host key algorithm: (\S+)/g;
const CIPHER_LINE = /kex: client->server cipher: (\S+) MAC: (\S+)/g;

export async function probeCiphers(ctx: BenchContext): Promise<NegotiatedCiphers> {
  const sshd = await startSshd({ dataDir: ctx.remoteDir, logLevel: 'DEBUG1' });
  try {
    const knownHostsPath = join(ctx.workDir, 'known_hosts_probe');
    writeKnownHosts(knownHostsPath, sshd.host, sshd.port, await hostPublicKeyOf(sshd));
    const server: SftpServerRef = {
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKeyPath: sshd.privateKeyPath,
      knownHostsPath,
    };
    // The connections come one after another, so the n-th line of each kind belongs to the n-th connection.
    const all = (pattern: RegExp) => [...sshd.logs().matchAll(pattern)];
    const seen = () => all(CIPHER_LINE).length;
    const after = async (before: number): Promise<Negotiated> => {
      for (let i = 0; i < 40 && seen() <= before; i++) await sleep(50);
      const cipher = all(CIPHER_LINE)[before];
      const kex = all(KEX_LINE)[before]?.[1];
      const hostKey = all(HOST_KEY_LINE)[before]?.[1];
      return {
        ...(kex ? { kex } : {}),
        ...(hostKey ? { hostKey } : {}),
        ...(cipher ? { cipher: cipher[1] as string, mac: cipher[2] as string } : {}),
      };
    };
    const result: NegotiatedCiphers = {};
    const probeFile = join(ctx.remoteDir, 'cipher-probe.txt');
    await writeFile(probeFile, 'cipher probe\n');

    let before = seen();
    await observe(
      ctx,
      sftpCommand(ctx.peer, server, { kind: 'get', remote: probeFile, local: join(ctx.workDir, 'cipher-probe.txt') }),
      {
        what: 'sftp cipher probe',
      },
    );
    result['openssh-sftp'] = await after(before);

    before = seen();
    await observe(ctx, rcloneCommand(rcloneEnv(ctx.peer, server), 'lsf', [`eftsftp:${ctx.remoteDir}`], ['--max-depth', '1']), {
      what: 'rclone cipher probe',
    });
    result.rclone = await after(before);

    // The eft leg bundle itself (with ssh2's crypto binding beside it, as in the container), once per policy.
    result.eft = {};
    for (const securityPolicy of SSH_SECURITY_POLICY_NAMES) {
      before = seen();
      const args: LegArgs = {
        direction: 'download',
        host: sshd.host,
        port: sshd.port,
        username: sshd.username,
        privateKeyPath: sshd.privateKeyPath,
        hostKeyFingerprint: sshd.hostKeyFingerprint,
        securityPolicy,
        remotePath: probeFile,
        localPath: '/dev/null',
        allowedCidrs: ['127.0.0.0/8'],
      };
      await observe(
        ctx,
        {
          command: process.execPath,
          args: [ctx.bundles.sftpLeg, JSON.stringify(args)],
          env: { PATH: process.env.PATH ?? '', ...CONTAINER_ENV },
        },
        { what: `eft cipher probe (${securityPolicy})` },
      );
      result.eft[securityPolicy] = await after(before);
    }
    return result;
  } finally {
    await sshd.stop();
  }
}
