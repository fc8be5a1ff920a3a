/**
 * A TCP relay on loopback that holds every byte for a fixed time in each
 * direction, in order: added latency without the kernel's netem. The bench's
 * latency run uses it where netem is missing (bench/delay-relay.ts runs it as
 * its own process); tests use it to give a connection a real round trip.
 *
 * Clients connect to the relay, the relay to the target; a request and its
 * reply each wait `oneWayMs`. What it does not model: TCP's own congestion
 * window on a long link (its sockets are loopback ones), so it shows the
 * protocols' pipelining, not TCP slow start. Queued bytes are bounded per
 * direction (reading pauses past `maxQueuedBytes`), like a router's buffer.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface RelayArgs {
  target: { host: string; port: number };
  oneWayMs: number;
  maxQueuedBytes?: number;
}

/** Forwards `from` to `to`, each chunk `delayMs` after it arrived, in order. */
function delayedPipe(from: net.Socket, to: net.Socket, delayMs: number, maxQueuedBytes: number): void {
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
