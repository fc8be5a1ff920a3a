/**
 * The added-latency setup: two network namespaces the bench creates itself,
 * joined by a veth pair with private addresses that exist only inside them,
 * and `tc netem` delaying each direction by half the RTT. sshd runs in the
 * server namespace (the same sshd_config, host key and authorized_keys as
 * the loopback one, listening also on the veth address); clients run in the
 * client namespace through `ip netns exec`. Nothing leaves the machine.
 *
 * netem needs the kernel's sch_netem (CONFIG_NET_SCH_NETEM); when it is
 * missing, setup fails with the reason and the bench skips the latency run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { stopChild } from '../tests/support/sshd';
import { runQuiet } from './proc';
import { sleep } from './util';

export interface LatencyNet {
  serverNs: string;
  clientNs: string;
  serverAddress: string;
  clientAddress: string;
  subnet: string;
  rttMs: number;
  /** Prefix for a client command: ['ip', 'netns', 'exec', clientNs]. */
  clientPrefix: string[];
  close(): Promise<void>;
}

const SERVER_ADDRESS = '10.231.77.1';
const CLIENT_ADDRESS = '10.231.77.2';
const SUBNET = '10.231.77.0/24';

async function ip(...args: string[]): Promise<string> {
  return runQuiet('ip', args, { timeoutMs: 10_000 });
}

/**
 * Creates the namespaces and the link; with rttMs > 0 adds netem delay of
 * rttMs/2 on both ends. rttMs = 0 builds the same topology without netem
 * (to check the plumbing on a kernel without netem). Throws with the
 * reason (after removing what it created) if anything fails.
 */
export async function createLatencyNet(rttMs: number): Promise<LatencyNet> {
  const id = `${process.pid % 100000}`;
  const serverNs = `eftb-srv-${id}`;
  const clientNs = `eftb-cli-${id}`;
  const serverIf = `eftbs${id}`;
  const clientIf = `eftbc${id}`;
  const created: string[] = [];
  const close = async () => {
    for (const ns of created.splice(0).reverse()) await ip('netns', 'del', ns).catch(() => undefined);
  };
  try {
    for (const ns of [serverNs, clientNs]) {
      await ip('netns', 'add', ns);
      created.push(ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    await ip('link', 'add', serverIf, 'netns', serverNs, 'type', 'veth', 'peer', 'name', clientIf, 'netns', clientNs);
    await ip('-n', serverNs, 'addr', 'add', `${SERVER_ADDRESS}/24`, 'dev', serverIf);
    await ip('-n', clientNs, 'addr', 'add', `${CLIENT_ADDRESS}/24`, 'dev', clientIf);
    await ip('-n', serverNs, 'link', 'set', serverIf, 'up');
    await ip('-n', clientNs, 'link', 'set', clientIf, 'up');
    if (rttMs > 0) {
      const half = `${rttMs / 2}ms`;
      // Half the round trip on each side. A large queue limit: netem's default
      // (1000 packets) would drop at high rates × delay.
      for (const [ns, dev] of [
        [serverNs, serverIf],
        [clientNs, clientIf],
      ] as const) {
        await runQuiet('ip', [
          'netns',
          'exec',
          ns,
          'tc',
          'qdisc',
          'add',
          'dev',
          dev,
          'root',
          'netem',
          'delay',
          half,
          'limit',
          '100000',
        ]);
      }
    }
    // The link is up when a ping-free TCP check passes; sshd's start below waits for its port anyway.
    return {
      serverNs,
      clientNs,
      serverAddress: SERVER_ADDRESS,
      clientAddress: CLIENT_ADDRESS,
      subnet: SUBNET,
      rttMs,
      clientPrefix: ['ip', 'netns', 'exec', clientNs],
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface NamespacedSshd {
  pid: number;
  host: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * A second sshd, in the server namespace, from the loopback sshd's own config
 * (tests/support/sshd.ts writes it next to the client key): same port, host
 * key, authorized_keys and SFTP-only setup, also listening on the veth address.
 */
export async function startNamespacedSshd(net: LatencyNet, privateKeyPath: string, port: number): Promise<NamespacedSshd> {
  const config = join(dirname(privateKeyPath), 'sshd_config');
  const child: ChildProcess = spawn(
    'ip',
    [
      'netns',
      'exec',
      net.serverNs,
      '/usr/sbin/sshd',
      '-D',
      '-e',
      '-f',
      config,
      '-o',
      `ListenAddress=${net.serverAddress}`,
      '-o',
      'PidFile=none',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-8192);
  });
  const stop = () => stopChild(child);
  // Wait (bounded) until a client in the client namespace reaches the port.
  for (let attempt = 0; attempt < 50; attempt++) {
    if (child.exitCode !== null) throw new Error(`sshd in ${net.serverNs} exited: ${stderr}`);
    const ok = await runQuiet(
      'ip',
      ['netns', 'exec', net.clientNs, 'bash', '-c', `exec 3<>/dev/tcp/${net.serverAddress}/${port} && head -c 4 <&3`],
      { timeoutMs: 5000 },
    ).then(
      (out) => out.startsWith('SSH'),
      () => false,
    );
    if (ok) return { pid: child.pid as number, host: net.serverAddress, port, stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`sshd in ${net.serverNs} did not answer on ${net.serverAddress}:${port}: ${stderr}`);
}
