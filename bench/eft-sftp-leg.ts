/**
 * eft's SFTP leg on its own, as a child process the bench measures: the
 * worker's own modules, assembled the way its hops assemble them, with a local
 * file in place of S3 so the SFTP side is measured without the S3 emulator:
 *
 *   download: openSftp → SftpReadStream → HashingStream(SHA-256) → local file
 *   upload:   local file → HashingStream(SHA-256) → SftpWriteStream (→ CLOSE)
 *
 * under runPipeline (the worker's stall watchdog), with the worker's request
 * size and window (core/data-plane/config.ts: its defaults, or EFT_* variables). The session is opened by
 * openSftp exactly as the worker opens it (SSRF guard, pinned host key,
 * TCP_NODELAY, the algorithms of the SSH security policy in LegArgs, as an
 * endpoint's `sftp.securityPolicy` would choose them).
 *
 * Argument: one JSON object (see LegArgs). Output: JSON lines on stdout,
 * {"event":"progress","bytes":n} a few times a second and a final
 * {"event":"done",…} with the timings, the SHA-256 and the peak RSS.
 */
import { createReadStream, createWriteStream, readFileSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Transform, type TransformCallback, Writable } from 'node:stream';
import { openSftp } from '../core/adapters/sftp/connect';
import { openSftpOverSsh } from '../core/adapters/sftp/openssh-transport';
import { moreChannelsFor } from '../core/adapters/sftp/transfer/channel';
import { SftpReadStream } from '../core/adapters/sftp/transfer/read-stream';
import { SftpWriteStream } from '../core/adapters/sftp/transfer/write-stream';
import { workerConfigFromEnv } from '../core/data-plane/config';
import type { SshSecurityPolicyName } from '../core/domain/ssh-security-policies';
import { runPipeline } from '../core/domain/transfer/pipeline';
import { HashingStream, ResumableSha256 } from '../core/domain/transfer/sha256';

export interface LegArgs {
  direction: 'download' | 'upload';
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
  hostKeyFingerprint: string;
  /** The SSH security policy openSftp offers the server's algorithms from (an endpoint's `sftp.securityPolicy`). */
  securityPolicy: SshSecurityPolicyName;
  remotePath: string;
  localPath: string;
  /** CIDRs the SSRF guard lets through (the worker reads them from EFT_ALLOWED_NETWORKS). */
  allowedCidrs: string[];
  /** The SSH layer: ssh2 in this process (default), or an OpenSSH `ssh -s sftp` child (issue 18's evaluation). */
  transport?: 'ssh2' | 'openssh';
  /**
   * A one-off measurement of the SFTP path alone (issue 18's transport evaluation): no SHA-256, and a download
   * goes to a sink that drops it instead of the local file. The progress counts bytes all the same.
   */
  bare?: boolean;
}

const PROGRESS_MS = 200;

/** Counts what passes as the hash would (its `position`), without hashing: the `bare` runs. */
class Counting extends Transform {
  constructor(private readonly hash: ResumableSha256) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.position += chunk.length;
    done(null, chunk);
  }
}

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as LegArgs;
  // The worker's own tunables: its defaults, or EFT_* variables as the worker reads them.
  const config = workerConfigFromEnv();
  const started = performance.now();
  const open = args.transport === 'openssh' ? openSftpOverSsh : openSftp;
  const session = await open({
    host: args.host,
    port: args.port,
    username: args.username,
    credentials: { privateKey: readFileSync(args.privateKeyPath, 'utf8') },
    hostKeyFingerprint: args.hostKeyFingerprint,
    securityPolicy: args.securityPolicy,
    networkPolicy: { allowedCidrs: args.allowedCidrs },
    readyTimeoutMs: config.connectTimeoutMs,
  });
  const connected = performance.now();
  const where = `sftp://${args.host}:${args.port}`;
  const hash = new ResumableSha256(config.partSizeBytes);
  const progress = setInterval(() => emit({ event: 'progress', bytes: hash.position }), PROGRESS_MS);
  try {
    // As the worker does (copyFile): stat first, so the reader asks for nothing past the end.
    const size =
      args.direction === 'download' ? (await session.client.stat(args.remotePath)).size : statSync(args.localPath).size;
    // Writes as for an endpoint whose validation found that two handles can write one file (sshd does).
    const channels = args.direction === 'download' ? config.sftpReadChannels : config.sftpWriteChannels;
    const moreChannels = await moreChannelsFor(session, size, channels, config);
    const streams =
      args.direction === 'download'
        ? [
            new SftpReadStream(session.sftp, args.remotePath, {
              size,
              requestBytes: config.sftpRequestBytes,
              maxInFlight: config.sftpMaxInFlight,
              where,
              moreChannels,
            }),
            args.bare ? new Counting(hash) : new HashingStream(hash),
            args.bare ? new Writable({ write: (_chunk, _encoding, done) => done() }) : createWriteStream(args.localPath),
          ]
        : [
            createReadStream(args.localPath),
            args.bare ? new Counting(hash) : new HashingStream(hash),
            new SftpWriteStream(session.sftp, args.remotePath, {
              requestBytes: config.sftpRequestBytes,
              maxInFlight: config.sftpMaxInFlight,
              where,
              moreChannels,
              bytes: size,
            }),
          ];
    await runPipeline(streams, {
      signal: new AbortController().signal,
      stallTimeoutMs: config.stallTimeoutMs,
      position: () => hash.position,
    });
  } finally {
    clearInterval(progress);
  }
  const transferred = performance.now();
  await session.close();
  emit({
    event: 'done',
    bytes: hash.position,
    sha256: hash.hex(),
    connectMs: connected - started,
    transferMs: transferred - connected,
    totalMs: performance.now() - started,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`eft leg failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
