/**
 * Which cipher each client really negotiates: a throw-away sshd (the same
 * setup, LogLevel DEBUG1) prints "kex: client->server cipher: …" for every
 * connection, and each client connects once, in turn. OpenSSH gets the cipher
 * pinned with -c; rclone 1.60 and the worker's openSftp (ssh2) take their
 * default preference, which the log shows.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSshd } from '../tests/support/sshd';
import type { BenchContext } from './context';
import type { LegArgs } from './eft-sftp-leg';
import { CONTAINER_ENV } from './engine';
import { observe } from './measure';
import { hostPublicKeyOf, rcloneCommand, rcloneEnv, type SftpServerRef, sftpCommand, writeKnownHosts } from './peers';
import { sleep } from './util';

export interface NegotiatedCiphers {
  'openssh-sftp'?: string;
  rclone?: string;
  eft?: string;
}

const KEX_LINE = /kex: client->server cipher: (\S+)/g;

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
    const seen = () => [...sshd.logs().matchAll(KEX_LINE)].map((m) => m[1] as string);
    const after = async (before: number): Promise<string | undefined> => {
      for (let i = 0; i < 40 && seen().length <= before; i++) await sleep(50);
      return seen()[before];
    };
    const result: NegotiatedCiphers = {};
    const probeFile = join(ctx.remoteDir, 'cipher-probe.txt');
    await writeFile(probeFile, 'cipher probe\n');

    let before = seen().length;
    await observe(
      ctx,
      sftpCommand(ctx.peer, server, { kind: 'get', remote: probeFile, local: join(ctx.workDir, 'cipher-probe.txt') }),
      {
        what: 'sftp cipher probe',
      },
    );
    result['openssh-sftp'] = await after(before);

    before = seen().length;
    await observe(ctx, rcloneCommand(rcloneEnv(ctx.peer, server), 'lsf', [`eftsftp:${ctx.remoteDir}`], ['--max-depth', '1']), {
      what: 'rclone cipher probe',
    });
    result.rclone = await after(before);

    // The eft leg bundle itself (with ssh2's crypto binding beside it, as in the container).
    before = seen().length;
    const args: LegArgs = {
      direction: 'download',
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKeyPath: sshd.privateKeyPath,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
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
      { what: 'eft cipher probe' },
    );
    result.eft = await after(before);
    return result;
  } finally {
    await sshd.stop();
  }
}
