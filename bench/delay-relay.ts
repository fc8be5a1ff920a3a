/**
 * The latency run's stand-in for `tc netem` on kernels built without
 * sch_netem (bench/netns.ts): the delay relay of tests/support/delay-relay.ts
 * in front of the bench's sshd, as its own process, so its CPU is not the
 * bench's. Clients connect to the relay; their throughput is then decided by
 * how many requests (and how much SSH channel window) they keep in flight.
 *
 * Run as a child process: argument one JSON object (RelayArgs); prints
 * {"event":"listening","port":n} once it accepts connections.
 */
import { spawn } from 'node:child_process';
import type * as net from 'node:net';
import { createInterface } from 'node:readline';
import { type RelayArgs, startDelayRelay } from '../tests/support/delay-relay';
import { stopChild } from '../tests/support/sshd';

export interface RunningRelay {
  host: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts the relay's bundle (bench/bundles.ts) as a child process and waits until it listens. */
export async function spawnDelayRelay(bundle: string, args: RelayArgs): Promise<RunningRelay> {
  const child = spawn(process.execPath, [bundle, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = () => stopChild(child);
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const { port } = JSON.parse(line) as { port: number };
    return { host: '127.0.0.1', port, pid: child.pid as number, stop };
  }
  await stop();
  throw new Error(`the delay relay exited (${child.exitCode ?? child.signalCode}) before it listened`);
}

if (require.main === module) {
  const args = JSON.parse(process.argv[2] ?? '{}') as RelayArgs;
  startDelayRelay(args).then(
    (server) => {
      const { port } = server.address() as net.AddressInfo;
      process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`);
    },
    (error: unknown) => {
      process.stderr.write(`delay relay: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
