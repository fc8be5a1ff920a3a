/**
 * Issue 18's one-off comparison of eft's SSH layers on loopback, beside
 * `npm run bench -- --sftp-openssh` (which runs the full legs): the eft leg
 * (bench/eft-sftp-leg.ts, bundled as the bench bundles it) over ssh2 and over
 * an OpenSSH `ssh -s sftp` child, each also `bare` (no SHA-256, downloads
 * dropped instead of written), and OpenSSH's `sftp`, in rotating order. CPU is
 * the client's tree (this process's reaped-children time, which includes the
 * ssh child eft or sftp reaps), per GB moved.
 *
 *   npx tsx bench/transport-compare.ts [MiB=256] [rounds=3]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd } from '../tests/support/sshd';
import { writeContentFile } from './content';
import { CONTAINER_ENV, eftNodeArgs } from './engine';
import { loopbackLegArgs } from './leg-args';

function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

async function main(): Promise<void> {
  const mib = Number(process.argv[2] ?? 256);
  const rounds = Number(process.argv[3] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'eft-transport-compare-'));
  const bundle = join(dir, 'eft-sftp-leg.js');
  execFileSync(process.execPath, [
    join(__dirname, '..', 'fargate-worker', 'build.mjs'),
    bundle,
    join(__dirname, 'eft-sftp-leg.ts'),
  ]);
  const sshd = await startSshd();
  const out = createWriteStream(join(dir, 'log.txt'));
  try {
    const source = join(sshd.dataDir, 'source.bin');
    await writeContentFile(source, mib * 1024 * 1024);
    const key = join(dir, 'key');
    writeFileSync(key, sshd.privateKey, { mode: 0o600 });
    const eft = (transport: 'ssh2' | 'openssh', bare: boolean) => (direction: 'download' | 'upload') => {
      const args = loopbackLegArgs(
        sshd,
        key,
        direction,
        {
          remote: direction === 'download' ? source : join(sshd.dataDir, 'upload.bin'),
          local: direction === 'download' ? join(dir, 'download.bin') : source,
        },
        { transport, bare },
      );
      return spawnSync(process.execPath, [...eftNodeArgs(), bundle, JSON.stringify(args)], {
        env: { PATH: process.env.PATH ?? '', ...CONTAINER_ENV },
      });
    };
    const sftp = (direction: 'download' | 'upload') => {
      const batch = join(dir, 'batch');
      writeFileSync(
        batch,
        direction === 'download'
          ? `get ${source} ${join(dir, 'download.bin')}\n`
          : `put ${source} ${join(sshd.dataDir, 'upload.bin')}\n`,
      );
      return spawnSync('sftp', [
        ...['-q', '-b', batch, '-i', key, '-P', String(sshd.port), '-o', 'StrictHostKeyChecking=no'],
        ...['-o', 'UserKnownHostsFile=/dev/null', '-o', 'Ciphers=aes128-gcm@openssh.com'],
        `${sshd.username}@${sshd.host}`,
      ]);
    };
    const tools: [string, (d: 'download' | 'upload') => ReturnType<typeof spawnSync>][] = [
      ['eft ssh2', eft('ssh2', false)],
      ['eft openssh', eft('openssh', false)],
      ['eft ssh2 bare', eft('ssh2', true)],
      ['eft openssh bare', eft('openssh', true)],
      ['openssh sftp', sftp],
    ];
    const bytes = mib * 1024 * 1024;
    for (let r = 0; r < rounds; r++) {
      for (const direction of ['download', 'upload'] as const) {
        for (let i = 0; i < tools.length; i++) {
          const [name, run] = tools[(i + r) % tools.length] as (typeof tools)[number];
          rmSync(join(dir, 'download.bin'), { force: true });
          rmSync(join(sshd.dataDir, 'upload.bin'), { force: true });
          const cpu = childrenCpuMs();
          const started = Date.now();
          const result = run(direction);
          const wall = Date.now() - started;
          const used = childrenCpuMs() - cpu;
          if (result.status !== 0) throw new Error(`${name} ${direction} failed: ${String(result.stderr).slice(0, 500)}`);
          const line = `${direction}\t${name}\t${((bytes / wall) * 1e-3).toFixed(1)} MB/s\t${((used / bytes) * 1e6).toFixed(2)} CPU s/GB\tround ${r}`;
          console.log(line);
          out.write(`${line}\n`);
        }
      }
    }
  } finally {
    out.end();
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
