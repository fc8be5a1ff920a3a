/**
 * A TCP relay on loopback that holds every byte for a fixed time in each
 * direction: the latency run's stand-in for `tc netem` on kernels built
 * without sch_netem (bench/netns.ts). Clients connect to the relay, the relay
 * to sshd; a request and its reply each wait `oneWayMs`, so an SFTP client
 * sees the round trip it would see on a link with that RTT, and its
 * throughput is decided by how many requests (and how much SSH channel
 * window) it keeps in flight, which is what the latency run is for.
 *
 * What it does not model: TCP's own congestion window on a long link (the
 * kernel sockets on either side are loopback ones), so it shows the
 * protocol's pipelining, not TCP slow start. Queued bytes are bounded per
 * direction (reading pauses past `maxQueuedBytes`), like a router's buffer,
 * so a fast sender is slowed instead of filling memory here.
 *
 * Run as a child process: argument one JSON object (RelayArgs); prints
 * {"event":"listening","port":n} once it accepts connections.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { stopChild } from '../tests/support/sshd';

export interface RelayArgs {
  target: { host: string; port: number };
  oneWayMs: number;
  maxQueuedBytes?: number;
}

/** Forwards `from` to `to`, each chunk `delayMs` after it arrived, in order. */
export function delayedPipe(from: net.Socket, to: net.Socket, delayMs: number, maxQueuedBytes: number): void {
  const queue: { due: number; chunk: Buffer }[] = [];
  let queuedBytes = 0;
  let flushScheduled = false;
  let ended = false;
  const full = () => queuedBytes + to.writableLength >= maxQueuedBytes;
  const resumeIfRoom = () => {
    if (from.isPaused() && !full()) from.resume();
  };
  const schedule = (ms: number) => {
    flushScheduled = true;
    setTimeout(flush, ms);
  };
  const flush = () => {
    flushScheduled = false;
    const now = performance.now();
    while (queue.length > 0 && (queue[0] as { due: number }).due <= now) {
      const { chunk } = queue.shift() as { chunk: Buffer };
      queuedBytes -= chunk.length;
      to.write(chunk);
    }
    const next = queue[0];
    if (next) schedule(next.due - now);
    else if (ended) to.end();
    resumeIfRoom();
  };
  from.on('data', (chunk: Buffer) => {
    queue.push({ due: performance.now() + delayMs, chunk });
    queuedBytes += chunk.length;
    if (full()) from.pause();
    if (!flushScheduled) schedule(delayMs);
  });
  to.on('drain', resumeIfRoom);
  from.on('end', () => {
    ended = true;
    if (queue.length === 0) to.end();
  });
}

export async function startDelayRelay(args: RelayArgs): Promise<net.Server> {
  const maxQueuedBytes = args.maxQueuedBytes ?? 64 << 20;
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    client.setNoDelay(true);
    const upstream = net.connect({ ...args.target, noDelay: true, allowHalfOpen: true });
    // Each side's end is passed on after its queued bytes (delayedPipe); an error drops both.
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    delayedPipe(client, upstream, args.oneWayMs, maxQueuedBytes);
    delayedPipe(upstream, client, args.oneWayMs, maxQueuedBytes);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

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
