/** What the numbers were measured on. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BASE_PATH } from './peers';

export interface Machine {
  nproc: number;
  cpu: string;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  openssh: string;
  rclone: string;
  awsCli?: string;
  s3rver: string;
  ssh2: string;
}

async function version(command: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, { env: { PATH: BASE_PATH }, timeout: 20_000 });
    return `${stdout}${stderr}`.trim().split('\n')[0] ?? 'unknown';
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    return (e.stderr ?? e.message).trim().split('\n')[0] ?? 'unknown';
  }
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}

export async function describeMachine(awsBinary: string | undefined): Promise<Machine> {
  let os = 'unknown';
  try {
    os = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os;
  } catch {
    // not Linux
  }
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    os,
    node: process.version,
    openssh: await version('ssh', ['-V']),
    rclone: await version('rclone', ['version']),
    ...(awsBinary ? { awsCli: await version(awsBinary, ['--version']) } : {}),
    s3rver: `@20minutes/s3rver ${packageVersion('@20minutes/s3rver')}`,
    ssh2: `ssh2 ${packageVersion('ssh2')}`,
  };
}
