/**
 * A/B of eft's SFTP download leg through the delay relay (and on loopback), in
 * alternating order, for the receive-window work of issue 18: MB/s (wall of the
 * leg process, and in-process transfer), client CPU s/GB (the leg's reaped
 * user+sys), sshd's and the relay's CPU s/GB.
 *
 *   npx tsx bench/window-ab.ts MiB ROUNDS RTT_MS[,RTT_MS…] NAME=BUNDLE[=ENV_JSON] …
 *
 * RTT 0 is loopback without the relay. Build a leg bundle with
 * `node fargate-worker/build.mjs OUT.js bench/eft-sftp-leg.ts`, the relay's with
 * `node fargate-worker/build.mjs DIR/delay-relay.js bench/delay-relay.ts` (RELAY_BUNDLE, default
 * /tmp/wab/delay-relay.js); ENV_JSON adds the worker's EFT_* settings, e.g.
 * `A1=/tmp/wab/leg-A.js={"EFT_SFTP_READ_CHANNELS":"1"}` for one channel; its NODE_ARGS (space-separated)
 * are added to the worker's Node flags, e.g. `{"NODE_ARGS":"--single-threaded"}`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd } from '../tests/support/sshd';
import { writeContentFile } from './content';
import { spawnDelayRelay } from './delay-relay';
import { CONTAINER_ENV, eftNodeArgs } from './engine';
import { loopbackLegArgs } from './leg-args';
import { findChildren, processTree, totalCpuMs } from './proc';

function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

async function main(): Promise<void> {
  const [mibText = '256', roundsText = '2', rtts = '20', ...variants] = process.argv.slice(2);
  const mib = Number(mibText);
  const bytes = mib * 1024 * 1024;
  const tools = variants.map((v) => {
    const [name, bundle, env] = v.split('=') as [string, string, string | undefined];
    return { name, bundle, env: env ? (JSON.parse(env) as Record<string, string>) : {} };
  });
  const dir = mkdtempSync(join(tmpdir(), 'eft-window-ab-'));
  const sshd = await startSshd();
  const sshdPid = findChildren(process.pid, 'sshd')[0] ?? 0;
  const relayBundle = process.env.RELAY_BUNDLE ?? '/tmp/wab/delay-relay.js';
  try {
    const source = join(sshd.dataDir, 'source.bin');
    await writeContentFile(source, bytes);
    const key = join(dir, 'key');
    writeFileSync(key, sshd.privateKey, { mode: 0o600 });
    const local = join(dir, 'download.bin');
    for (const rtt of rtts.split(',').map(Number)) {
      const relay =
        rtt > 0
          ? await spawnDelayRelay(relayBundle, { target: { host: sshd.host, port: sshd.port }, oneWayMs: rtt / 2 })
          : undefined;
      try {
        for (let r = 0; r < Number(roundsText); r++) {
          for (let i = 0; i < tools.length; i++) {
            const { name, bundle, env } = tools[(i + r) % tools.length] as (typeof tools)[number];
            rmSync(local, { force: true });
            const args = {
              ...loopbackLegArgs(sshd, key, 'download', { remote: source, local }),
              ...(relay ? { port: relay.port } : {}),
            };
            const cpu = childrenCpuMs();
            const sshdBefore = sshdPid ? totalCpuMs(sshdPid) : 0;
            const relayBefore = relay ? totalCpuMs(relay.pid) : 0;
            const started = Date.now();
            const { NODE_ARGS: nodeArgs = '', ...legEnv } = env;
            const result = spawnSync(
              process.execPath,
              [...eftNodeArgs(), ...nodeArgs.split(' ').filter(Boolean), bundle, JSON.stringify(args)],
              {
                env: { PATH: process.env.PATH ?? '', ...CONTAINER_ENV, ...legEnv },
                maxBuffer: 64 * 1024 * 1024,
              },
            );
            const wall = Date.now() - started;
            for (let k = 0; k < 60 && sshdPid && processTree(sshdPid).length > 1; k++)
              await new Promise((res) => setTimeout(res, 50));
            const used = childrenCpuMs() - cpu;
            const sshdUsed = sshdPid ? totalCpuMs(sshdPid) - sshdBefore : Number.NaN;
            const relayUsed = relay ? totalCpuMs(relay.pid) - relayBefore : 0;
            if (result.status !== 0) throw new Error(`${name} failed: ${String(result.stderr).slice(0, 2000)}`);
            const stderr = String(result.stderr).trim();
            const done = String(result.stdout)
              .split('\n')
              .filter((l) => l.startsWith('{'))
              .map((l) => JSON.parse(l) as { event: string; transferMs?: number; connectMs?: number })
              .find((e) => e.event === 'done');
            const perGB = (ms: number) => ((ms / bytes) * 1e6).toFixed(2);
            console.log(
              `rtt ${rtt}\tround ${r}\t${name}\t${((bytes / wall) * 1e-3).toFixed(1)} MB/s (${((bytes / (done?.transferMs ?? 1)) * 1e-3).toFixed(1)} in transfer, connect ${Math.round(done?.connectMs ?? 0)} ms)\tcpu ${perGB(used)} s/GB\tsshd ${perGB(sshdUsed)}\trelay ${perGB(relayUsed)}${stderr ? `\t${stderr.split('\n').slice(-2).join(' | ')}` : ''}`,
            );
          }
        }
      } finally {
        await relay?.stop();
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
