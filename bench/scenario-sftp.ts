/**
 * SFTP download and upload, one leg each, between sshd and the local disk:
 * eft (the worker's streaming modules, bench/eft-sftp-leg.ts) vs OpenSSH
 * `sftp -b` vs `rclone copyto`. Every tool reads or writes the same local
 * file; rounds alternate the order of the tools. eft runs once per SSH
 * security policy of --policies, each a row of its own ("eft (FIPS-2024)").
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SshSecurityPolicyName } from '../core/domain/ssh-security-policies';
import { sha256File, writeContentFile } from './content';
import {
  type BenchContext,
  eventOf,
  type Measurement,
  measurement,
  progressFromLines,
  roomFor,
  rssWindow,
  skip,
  type Tool,
} from './context';
import type { LegArgs } from './eft-sftp-leg';
import { CONTAINER_ENV, eftNodeArgs } from './engine';
import { observe, removeQuietly, sameSampled, settle } from './measure';
import { type Command, rcloneCommand, rcloneEnv, type SftpServerRef, sftpCommand } from './peers';
import { formatBytes, log, rotate, round } from './util';

export interface SftpSide {
  network: string;
  server: SftpServerRef;
  hostKeyFingerprint: string;
  sshdPid: number;
  /** Client command prefix (ip netns exec …), empty on loopback. */
  prefix: string[];
  allowedCidrs: string[];
}

/** One contestant of a leg: a tool, and for eft the SSH security policy it connects with. */
interface Runner {
  tool: Tool;
  policy?: SshSecurityPolicyName;
  /** eft over an OpenSSH ssh child instead of ssh2 (--sftp-openssh). */
  transport?: 'openssh';
  /** For logs and file names: "eft (MODERN)", "rclone". */
  label: string;
}

function runnersOf(policies: SshSecurityPolicyName[], openssh: boolean): Runner[] {
  return [
    ...policies.map((policy) => ({ tool: 'eft' as const, policy, label: `eft (${policy})` })),
    ...(openssh
      ? policies.map((policy) => ({
          tool: 'eft' as const,
          policy,
          transport: 'openssh' as const,
          label: `eft (${policy}, openssh)`,
        }))
      : []),
    { tool: 'openssh-sftp', label: 'openssh-sftp' },
    { tool: 'rclone', label: 'rclone' },
  ];
}

function command(
  ctx: BenchContext,
  side: SftpSide,
  { tool, policy, transport }: Runner,
  direction: 'download' | 'upload',
  remote: string,
  local: string,
): Command {
  switch (tool) {
    case 'eft': {
      const args: LegArgs = {
        direction,
        host: side.server.host,
        port: side.server.port,
        username: side.server.username,
        privateKeyPath: side.server.privateKeyPath,
        hostKeyFingerprint: side.hostKeyFingerprint,
        securityPolicy: policy ?? 'FIPS-2024',
        remotePath: remote,
        localPath: local,
        allowedCidrs: side.allowedCidrs,
        ...(transport ? { transport } : {}),
      };
      return {
        command: process.execPath,
        args: [...eftNodeArgs(), ctx.bundles.sftpLeg, JSON.stringify(args)],
        env: { PATH: process.env.PATH ?? '', ...CONTAINER_ENV },
      };
    }
    case 'openssh-sftp':
      return sftpCommand(ctx.peer, side.server, { kind: direction === 'download' ? 'get' : 'put', remote, local });
    case 'rclone': {
      const env = rcloneEnv(ctx.peer, side.server);
      return direction === 'download'
        ? rcloneCommand(env, 'copyto', [`eftsftp:${remote}`, local])
        : rcloneCommand(env, 'copyto', [local, `eftsftp:${remote}`]);
    }
    default:
      throw new Error(`no ${tool} for SFTP legs`);
  }
}

export async function runSftpLegs(ctx: BenchContext, side: SftpSide): Promise<void> {
  const dir = join(ctx.remoteDir, 'legs');
  await mkdir(dir, { recursive: true });
  for (const size of ctx.options.sizes) {
    if (!roomFor(dir, 2 * size)) {
      skip(
        ctx,
        `SFTP legs (${side.network}) at ${formatBytes(size)}: not enough free space for the source and one copy (${formatBytes(2 * size)})`,
      );
      continue;
    }
    const source = join(dir, `source-${size}.bin`);
    log(`SFTP legs (${side.network}), ${formatBytes(size)}: generating the source file`);
    const sourceSha = await writeContentFile(source, size);
    await settle();
    const runners = runnersOf(ctx.options.policies, ctx.options.sftpOpenssh);
    try {
      for (let r = 0; r < ctx.options.rounds; r++) {
        for (const [d, direction] of (['download', 'upload'] as const).entries()) {
          for (const runner of rotate(runners, r + d)) {
            const { tool, policy, transport, label } = runner;
            const fileTag = policy ? `${tool}-${policy}${transport ? `-${transport}` : ''}` : tool;
            const local = direction === 'download' ? join(ctx.workDir, `download-${fileTag}.bin`) : source;
            const remote = direction === 'download' ? source : join(dir, `upload-${fileTag}.bin`);
            const destination = direction === 'download' ? local : remote;
            await removeQuietly(destination);
            const observed = await observe(ctx, command(ctx, side, runner, direction, remote, local), {
              what: `${label} ${direction} of ${formatBytes(size)}`,
              prefix: side.prefix,
              sshdPid: side.sshdPid,
              ...(tool === 'eft' ? {} : { progressFile: destination }),
            });
            const { outcome } = observed;
            let verified: Measurement['verified'];
            if (r === 0) {
              const sha = await sha256File(destination);
              if (sha !== sourceSha) throw new Error(`${label} ${direction}: the copy's SHA-256 differs from the source's`);
              verified = 'sha256';
            } else {
              if (!(await sameSampled(source, destination)))
                throw new Error(`${label} ${direction}: the copy differs from the source`);
              verified = 'size+samples';
            }
            const done =
              tool === 'eft'
                ? eventOf<{ sha256: string; maxRssBytes: number; transferMs: number; connectMs: number }>(outcome.stdout, 'done')
                : undefined;
            if (done && done.sha256 !== sourceSha) throw new Error(`${label}: the SHA-256 it computed differs from the source`);
            const progress = tool === 'eft' ? progressFromLines(outcome.stdout) : observed.progress;
            const window = rssWindow(outcome.samples, progress, size, outcome.wallMs);
            const m = measurement(
              {
                scenario: `sftp-${direction}`,
                network: side.network,
                tool,
                ...(policy ? { policy } : {}),
                ...(transport ? { transport } : {}),
                bytes: size,
                round: r,
                ...(observed.sshdCpuMs !== undefined ? { sshdCpuMs: round(observed.sshdCpuMs, 0) } : {}),
                otherCpuMs: round(observed.otherCpuMs, 0),
                verified,
                ...(window ? { rss: window } : {}),
                ...(done
                  ? {
                      hwmMiB: round(done.maxRssBytes / 1048576),
                      // connectMs: TCP, key exchange and authentication, where the policies differ most.
                      detail: {
                        inProcessMs: round(done.connectMs + done.transferMs, 0),
                        connectMs: round(done.connectMs, 0),
                      },
                    }
                  : {}),
              },
              outcome,
            );
            ctx.measurements.push(m);
            log(
              `  ${direction.padEnd(8)} ${label.padEnd(16)} ${String(m.mbps).padStart(7)} MB/s  cpu ${m.cpuMs} ms  sshd ${m.sshdCpuMs ?? '-'} ms  peak ${m.peakRssMiB} MiB`,
            );
            if (direction === 'download') await removeQuietly(destination);
            else await removeQuietly(remote);
            await settle();
          }
        }
      }
    } finally {
      await removeQuietly(source);
    }
  }
}
