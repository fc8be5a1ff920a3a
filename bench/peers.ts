/**
 * The peers eft is compared with, as commands with a complete, explicit
 * environment (nothing inherited: an AWS_CA_BUNDLE or a user rclone.conf in
 * the bench's own environment would otherwise change what they do).
 *
 * - OpenSSH `sftp -b` (batch mode), cipher pinned with -c;
 * - rclone, configured only through RCLONE_CONFIG_<REMOTE>_* variables: an
 *   sftp remote `eftsftp:` and an s3 remote `efts3:` (provider Other, the
 *   emulator's endpoint, path style);
 * - the AWS CLI (`aws s3 cp`) for the S3→S3 copy, when installed.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface SftpServerRef {
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
  /** known_hosts file that holds exactly this server's host key. */
  knownHostsPath: string;
}

export interface S3Ref {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export interface PeerSettings {
  /** Scratch directory for batch files, HOME, caches. */
  workDir: string;
  /** The cipher pinned for OpenSSH (rclone 1.60 has no cipher option, see docs/benchmarks.md). */
  cipher: string;
  /** rclone's S3 part size and parallel parts, set to eft's (16 MiB, 4). */
  s3ChunkSize: string;
  s3UploadConcurrency: number;
}

export interface Command {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/**
 * The host public key line of a tests/support/sshd.ts server, whatever its type
 * (ECDSA by default, ed25519 if asked for): the `HostKey` of the sshd_config it
 * writes next to the client key, plus ".pub".
 */
export async function hostPublicKeyOf(sshd: { privateKeyPath: string }): Promise<string> {
  const config = await readFile(join(dirname(sshd.privateKeyPath), 'sshd_config'), 'utf8');
  const hostKey = /^HostKey\s+(\S+)$/m.exec(config)?.[1];
  if (!hostKey) throw new Error(`no HostKey in the sshd_config beside ${sshd.privateKeyPath}`);
  return readFile(`${hostKey}.pub`, 'utf8');
}

/** Writes a known_hosts file for a server from its host public key line ("ecdsa-sha2-nistp256 AAAA… comment"). */
export function writeKnownHosts(path: string, host: string, port: number, publicKeyLine: string): void {
  const [type, blob] = publicKeyLine.trim().split(/\s+/);
  writeFileSync(path, `[${host}]:${port} ${type} ${blob}\n`, { mode: 0o600 });
}

let batchSeq = 0;

/** `sftp -b` running one get or put. */
export function sftpCommand(
  settings: PeerSettings,
  server: SftpServerRef,
  operation: { kind: 'get' | 'put'; remote: string; local: string },
): Command {
  const batch = join(settings.workDir, `sftp-batch-${++batchSeq}.txt`);
  const line =
    operation.kind === 'get'
      ? `get "${operation.remote}" "${operation.local}"`
      : `put "${operation.local}" "${operation.remote}"`;
  writeFileSync(batch, `${line}\n`);
  return {
    command: 'sftp',
    args: [
      '-q',
      '-b',
      batch,
      '-c',
      settings.cipher,
      '-i',
      server.privateKeyPath,
      '-P',
      String(server.port),
      '-F',
      '/dev/null',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${server.knownHostsPath}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'LogLevel=ERROR',
      `${server.username}@${server.host}`,
    ],
    env: { PATH: BASE_PATH, HOME: settings.workDir },
  };
}

/** The environment that defines rclone's remotes `eftsftp:` and `efts3:` (either may be absent). */
export function rcloneEnv(settings: PeerSettings, sftp?: SftpServerRef, s3?: S3Ref): Record<string, string> {
  const configFile = join(settings.workDir, 'rclone.conf');
  writeFileSync(configFile, '');
  const env: Record<string, string> = {
    PATH: BASE_PATH,
    HOME: settings.workDir,
    RCLONE_CONFIG: configFile,
    RCLONE_CACHE_DIR: join(settings.workDir, 'rclone-cache'),
  };
  if (sftp) {
    Object.assign(env, {
      RCLONE_CONFIG_EFTSFTP_TYPE: 'sftp',
      RCLONE_CONFIG_EFTSFTP_HOST: sftp.host,
      RCLONE_CONFIG_EFTSFTP_PORT: String(sftp.port),
      RCLONE_CONFIG_EFTSFTP_USER: sftp.username,
      RCLONE_CONFIG_EFTSFTP_KEY_FILE: sftp.privateKeyPath,
      RCLONE_CONFIG_EFTSFTP_KNOWN_HOSTS_FILE: sftp.knownHostsPath,
      // The server is SFTP-only (ForceCommand internal-sftp): no shell for md5sum/df.
      RCLONE_CONFIG_EFTSFTP_SHELL_TYPE: 'none',
      RCLONE_CONFIG_EFTSFTP_DISABLE_HASHCHECK: 'true',
    });
  }
  if (s3) {
    Object.assign(env, {
      RCLONE_CONFIG_EFTS3_TYPE: 's3',
      RCLONE_CONFIG_EFTS3_PROVIDER: 'Other',
      RCLONE_CONFIG_EFTS3_ENDPOINT: s3.endpoint,
      RCLONE_CONFIG_EFTS3_ACCESS_KEY_ID: s3.accessKeyId,
      RCLONE_CONFIG_EFTS3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      RCLONE_CONFIG_EFTS3_REGION: s3.region,
      RCLONE_CONFIG_EFTS3_FORCE_PATH_STYLE: 'true',
      RCLONE_CONFIG_EFTS3_NO_CHECK_BUCKET: 'true',
      RCLONE_CONFIG_EFTS3_CHUNK_SIZE: settings.s3ChunkSize,
      RCLONE_CONFIG_EFTS3_UPLOAD_CONCURRENCY: String(settings.s3UploadConcurrency),
    });
  }
  return env;
}

/** `rclone <verb> <paths…> [extra…]`, quiet, failing fast instead of retrying the whole run. */
export function rcloneCommand(env: Record<string, string>, verb: string, paths: string[], extra: string[] = []): Command {
  return {
    command: 'rclone',
    args: [verb, ...paths, '-q', '--retries', '1', '--stats', '0', ...extra],
    env,
  };
}

/** `aws s3 cp` between two S3 URLs against the emulator, with multipart settings from its own config file. */
export function awsCopyCommand(
  settings: PeerSettings,
  awsBinary: string,
  s3: S3Ref,
  from: string,
  to: string,
  multipart: { thresholdBytes: number; chunkBytes: number },
): Command {
  const configFile = join(settings.workDir, 'aws-config');
  writeFileSync(
    configFile,
    [
      '[default]',
      `region = ${s3.region}`,
      's3 =',
      `  multipart_threshold = ${multipart.thresholdBytes}`,
      `  multipart_chunksize = ${multipart.chunkBytes}`,
      '  addressing_style = path',
      '',
    ].join('\n'),
  );
  return {
    command: awsBinary,
    args: ['s3', 'cp', from, to, '--endpoint-url', s3.endpoint, '--only-show-errors', '--no-progress'],
    env: {
      PATH: BASE_PATH,
      HOME: settings.workDir,
      AWS_CONFIG_FILE: configFile,
      AWS_SHARED_CREDENTIALS_FILE: join(settings.workDir, 'aws-credentials-none'),
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_DEFAULT_REGION: s3.region,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  };
}
