/**
 * A TCP proxy on loopback for fault injection between the worker and a peer:
 * it forwards connections to the target and, when armed, cuts a connection
 * (TCP RST on both sides) or holds it (stops forwarding, like a stalled link)
 * once that connection has carried a given number of bytes in either direction.
 * Each arming applies to one connection, the first to cross the threshold;
 * later connections pass through untouched. It can also keep what the target
 * sends instead of delivering it (the client hears nothing, so it cannot
 * answer with flow-control updates), to see how much the target sends unasked.
 *
 * Byte counts are counted on the wire (SSH framing, both directions), so a
 * threshold says nothing about how far a client's stream has got. A test that
 * needs the cut at a point of the transfer waits for that point (an event it
 * observes) and then calls cutAll().
 */
import * as net from 'node:net';

export interface TcpProxy {
  host: string;
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections open now (accepted, not yet closed). */
  readonly open: number;
  /** The most connections that were ever open at once (the sessions a partner behind the proxy saw at once). */
  readonly maxConcurrent: number;
  /** Cuts the first connection to have carried `bytes` in total (both directions); resolves when it has been cut. */
  cutAfter(bytes: number): Promise<void>;
  /** Stops forwarding on the first connection to have carried `bytes` in total; resolves when it is held. */
  holdAfter(bytes: number): Promise<void>;
  /** Resumes a held connection. */
  release(): void;
  /** Cuts the held connection (TCP RST on both sides). */
  cutHeld(): void;
  /** Cuts every connection open now (TCP RST on both sides), at once; returns how many. Later connections pass. */
  cutAll(): number;
  /** From now on keeps what the target sends (still read, not delivered); resolves once `bytes` have been kept. */
  keepFromTarget(bytes: number): Promise<void>;
  /** Delivers what was kept, and forwards as before. */
  deliverKept(): void;
  /** Bytes kept so far. */
  readonly keptBytes: number;
  /** Resolves once clients have sent `bytes` more to the target (counted from now). */
  untilSentToTarget(bytes: number): Promise<void>;
  /** Bytes clients have sent to the target so far. */
  readonly sentToTarget: number;
  close(): Promise<void>;
}

type Trigger = { kind: 'cut' | 'hold'; bytes: number; fired: () => void };

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const pairs = new Set<[net.Socket, net.Socket]>();
  let accepted = 0;
  let open = 0;
  let maxConcurrent = 0;
  let trigger: Trigger | undefined;
  let heldPair: [net.Socket, net.Socket] | undefined;
  let keeping: { kept: [net.Socket, Buffer][]; wanted: number; reached: () => void } | undefined;
  let keptBytes = 0;
  let sentToTarget = 0;
  let sendWaiter: { total: number; reached: () => void } | undefined;

  const server = net.createServer((client) => {
    accepted++;
    open++;
    maxConcurrent = Math.max(maxConcurrent, open);
    let counted = true;
    client.setNoDelay(true);
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    sockets.add(client);
    sockets.add(upstream);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    let carried = 0;
    const onClose = () => {
      if (counted) {
        counted = false;
        open--;
      }
      sockets.delete(client);
      sockets.delete(upstream);
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', onClose);
    upstream.on('close', onClose);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);

    const forward = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (from === client) {
          sentToTarget += chunk.length;
          if (sendWaiter && sentToTarget >= sendWaiter.total) {
            sendWaiter.reached();
            sendWaiter = undefined;
          }
        }
        if (keeping && from === upstream) {
          keeping.kept.push([to, chunk]);
          keptBytes += chunk.length;
          if (keptBytes >= keeping.wanted) keeping.reached();
          return;
        }
        carried += chunk.length;
        const armed = trigger;
        if (armed && carried >= armed.bytes) {
          trigger = undefined;
          if (armed.kind === 'cut') {
            client.resetAndDestroy();
            upstream.resetAndDestroy();
            armed.fired();
            return;
          }
          client.pause();
          upstream.pause();
          heldPair = [client, upstream];
          to.write(chunk);
          armed.fired();
          return;
        }
        // Backpressure both ways, so a slow side slows the other instead of filling memory here.
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => {
            if (heldPair?.[0] !== client) from.resume();
          });
        }
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;

  const arm = (kind: Trigger['kind'], bytes: number) =>
    new Promise<void>((resolve) => {
      trigger = { kind, bytes, fired: resolve };
    });

  return {
    host: '127.0.0.1',
    port,
    get connections() {
      return accepted;
    },
    get open() {
      return open;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    cutAfter: (bytes) => arm('cut', bytes),
    holdAfter: (bytes) => arm('hold', bytes),
    release: () => {
      const pair = heldPair;
      heldPair = undefined;
      pair?.[0].resume();
      pair?.[1].resume();
    },
    cutHeld: () => {
      const pair = heldPair;
      heldPair = undefined;
      pair?.[0].resetAndDestroy();
      pair?.[1].resetAndDestroy();
    },
    cutAll: () => {
      const open = [...pairs];
      pairs.clear();
      if (heldPair && open.some(([client]) => client === heldPair?.[0])) heldPair = undefined;
      for (const [client, upstream] of open) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      return open.length;
    },
    keepFromTarget: (bytes) =>
      new Promise<void>((resolve) => {
        keptBytes = 0;
        keeping = { kept: [], wanted: bytes, reached: resolve };
      }),
    deliverKept: () => {
      const kept = keeping?.kept ?? [];
      keeping = undefined;
      for (const [to, chunk] of kept) to.write(chunk);
    },
    get keptBytes() {
      return keptBytes;
    },
    untilSentToTarget: (bytes) =>
      new Promise<void>((resolve) => {
        sendWaiter = { total: sentToTarget + bytes, reached: resolve };
      }),
    get sentToTarget() {
      return sentToTarget;
    },
    close: async () => {
      trigger = undefined;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
