/**
 * A/B comparison of eft's SFTP leg bundles (bench/eft-sftp-leg.ts built by
 * fargate-worker/build.mjs from two source trees) on one private sshd on
 * loopback, in alternating order: MB/s (wall of the leg process) and client
 * CPU s/GB (the leg's user+sys, from this process's reaped-children times),
 * with the SHA-256 checked against the source's. For issue 18's CPU work:
 *
 *   npx tsx bench/sftp-ab.ts DIRECTION MiB ROUNDS NAME=BUNDLE [NAME=BUNDLE …]
 *
 * (build a bundle with: npx node fargate-worker/build.mjs OUT.js bench/eft-sftp-leg.ts; extra Node flags for the
 * legs in AB_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=DIR", extra environment as JSON in AB_ENV)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd } from '../tests/support/sshd';
import { writeContentFile } from './content';
import { CONTAINER_ENV, eftNodeArgs } from './engine';
import { loopbackLegArgs } from './leg-args';

/** User and system CPU ms of this process's reaped children (the legs). */
function childrenCpuMs(): [number, number] {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return [Number(fields[13]) * 10, Number(fields[14]) * 10];
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function main(): Promise<void> {
  const [direction = 'download', mibText = '256', roundsText = '2', ...variants] = process.argv.slice(2);
  if (direction !== 'download' && direction !== 'upload') throw new Error('direction: download or upload');
  const mib = Number(mibText);
  const rounds = Number(roundsText);
  const tools = variants.map((v) => v.split('=') as [string, string]);
  const dir = mkdtempSync(join(tmpdir(), 'eft-sftp-ab-'));
  const sshd = await startSshd();
  try {
    const source = join(sshd.dataDir, 'source.bin');
    await writeContentFile(source, mib * 1024 * 1024);
    const expected = await sha256Of(source);
    const key = join(dir, 'key');
    writeFileSync(key, sshd.privateKey, { mode: 0o600 });
    const local = join(dir, 'download.bin');
    const bytes = mib * 1024 * 1024;
    const results = new Map<string, string[]>();
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < tools.length; i++) {
        const [name, bundle] = tools[(i + r) % tools.length] as [string, string];
        rmSync(local, { force: true });
        rmSync(join(sshd.dataDir, 'upload.bin'), { force: true });
        const args = loopbackLegArgs(sshd, key, direction, {
          remote: direction === 'download' ? source : join(sshd.dataDir, 'upload.bin'),
          local: direction === 'download' ? local : source,
        });
        const cpu = childrenCpuMs();
        const started = Date.now();
        // AB_WRAP: a command to run the leg under (e.g. "strace -c -f -o FILE").
        const command = [
          ...(process.env.AB_WRAP?.split(' ').filter(Boolean) ?? []),
          process.execPath,
          ...eftNodeArgs(),
          ...(process.env.AB_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
          bundle,
          JSON.stringify(args),
        ];
        const result = spawnSync(command[0] as string, command.slice(1), {
          env: {
            PATH: process.env.PATH ?? '',
            ...CONTAINER_ENV,
            ...(process.env.AB_ENV ? JSON.parse(process.env.AB_ENV) : {}),
          },
          maxBuffer: 64 * 1024 * 1024,
        });
        const wall = Date.now() - started;
        const after = childrenCpuMs();
        const user = after[0] - cpu[0];
        const sys = after[1] - cpu[1];
        const used = user + sys;
        if (process.env.AB_KEEP_STDOUT) writeFileSync(`${process.env.AB_KEEP_STDOUT}.${name}.${r}`, result.stdout);
        if (result.status !== 0) throw new Error(`${name} failed: ${String(result.stderr).slice(0, 2000)}`);
        const done = String(result.stdout)
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { event: string; sha256?: string; transferMs?: number })
          .find((e) => e.event === 'done');
        const written = direction === 'download' ? await sha256Of(local) : await sha256Of(join(sshd.dataDir, 'upload.bin'));
        const ok = done?.sha256 === expected && written === expected ? 'sha ok' : 'SHA MISMATCH';
        const line = `${name}\t${((bytes / wall) * 1e-3).toFixed(1)} MB/s\t${((bytes / (done?.transferMs ?? 1)) * 1e-3).toFixed(1)} MB/s in-process\t${((used / bytes) * 1e6).toFixed(2)} CPU s/GB (user ${((user / bytes) * 1e6).toFixed(2)}, sys ${((sys / bytes) * 1e6).toFixed(2)})\t${ok}\tpid ${result.pid}`;
        console.log(`${direction} ${mib} MiB round ${r}\t${line}`);
        results.set(name, [...(results.get(name) ?? []), line]);
      }
    }
  } finally {
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
