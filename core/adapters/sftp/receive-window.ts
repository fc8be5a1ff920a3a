/**
 * The SSH receive window of the SFTP channel, sized to the link: downloads
 * over a long link are not capped at ~1 MiB per round trip, and a short link
 * keeps the window that spares the server's CPU.
 *
 * Why: SSH flow control lets the server send only as many bytes as the
 * client's channel window allows. ssh2 opens every channel with a 2 MiB window
 * and tops it up only once half of it is used, so about 1 MiB is in flight on
 * average, whatever the reader's request window: long links are capped.
 *
 * How: the window is raised right after the channel opens (one
 * WINDOW_ADJUST) and topped up again after every 1/16th of it is used, so
 * 15/16 of it stay available to the server. The server cannot send more than
 * the reader asked for (its own window of READs), so memory stays bounded by
 * the reader as before.
 *
 * How wide (receiveWindowFor): the bandwidth-delay product of the session's
 * round trip at TARGET_BYTES_PER_SECOND, never below 4 MiB nor above 16 MiB.
 * On a short link (loopback, in-region: under ~10 ms) that is 4 MiB: there the
 * client, not the window, is the limit, and the server buffers up to the
 * window with a CPU cost that grows faster than the window does. At 20 ms it
 * is 8 MB: with 4 MiB one channel is window-bound there. That is the window
 * of the link: a stream spread over several channels of the connection
 * (moreChannels) needs it in total, so the open channels share it, each
 * keeping at least 4 MiB (ConnectionWindows; with two channels at 20 ms each
 * has 4 MiB, as measured enough, and sshd buffers no more). The round trip is
 * one the session makes anyway (RoundTrips): the shortest of the SSH service
 * request and the channel opens, timed from ssh2's debug lines, so measuring
 * it costs no probe and no setup time; not measured (an ssh2 whose lines
 * differ), it counts as short. The measurements behind these choices:
 * docs/benchmarks.md, "Tuning choices".
 *
 * The top-up hooks ssh2's SFTP channel internals (its `push` and `incoming`
 * window, which ssh2 does not expose); with an ssh2 whose channel does not
 * look like that, the window is left at ssh2's default.
 */
import { performance } from 'node:perf_hooks';
import type { SFTPWrapper } from 'ssh2';

const MiB = 1024 * 1024;
/** The window on a short link, and the least on any. */
export const RECEIVE_WINDOW_BYTES = 4 * MiB;
/** The most: a wider window only makes the server buffer (the reader's READs bound what it may send anyway). */
export const MAX_RECEIVE_WINDOW_BYTES = 16 * MiB;
/** The rate the window is sized for: about what one client process moves on a fast link. */
export const TARGET_BYTES_PER_SECOND = 400e6;

/** The receive window for a link of `roundTripMs` (undefined: not measured, taken as short). */
export function receiveWindowFor(roundTripMs: number | undefined): number {
  if (roundTripMs === undefined || !Number.isFinite(roundTripMs)) return RECEIVE_WINDOW_BYTES;
  const product = Math.round((roundTripMs / 1000) * TARGET_BYTES_PER_SECOND);
  return Math.min(MAX_RECEIVE_WINDOW_BYTES, Math.max(RECEIVE_WINDOW_BYTES, product));
}

/**
 * Round trips an SSH session makes anyway, timed from ssh2's debug lines
 * (the `debug` option of its Client): the SERVICE_REQUEST of authentication
 * until its SERVICE_ACCEPT, and each CHANNEL_OPEN until its confirmation. The
 * server answers both without other work (no key check, no process to start),
 * so the shortest is the link's round trip plus little.
 */
export class RoundTrips {
  private readonly pending = new Map<string, number>();
  private shortest = Number.POSITIVE_INFINITY;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** The shortest round trip seen, in ms; undefined before one completed. */
  get shortestMs(): number | undefined {
    return Number.isFinite(this.shortest) ? this.shortest : undefined;
  }

  /** Called with every ssh2 debug line. */
  observe(line: string): void {
    // Cheap first test: ssh2 also writes a line for every data packet.
    if (line.charCodeAt(0) !== 79 /* O */ && line.charCodeAt(0) !== 73 /* I */) return;
    const sent = SENT.exec(line);
    if (sent) {
      this.pending.set(sent[1] ?? sent[2] ?? '', this.now());
      return;
    }
    const answered = ANSWERED.exec(line);
    if (!answered) return;
    const key = answered[1] ?? answered[2] ?? '';
    const at = this.pending.get(key);
    if (at === undefined) return;
    this.pending.delete(key);
    this.shortest = Math.min(this.shortest, this.now() - at);
  }
}

// Keys: "service:<name>" or the local channel number, matched across the request and its answer.
const SENT = /^Outbound: Sending (?:SERVICE_REQUEST \((\S+)\)|CHANNEL_OPEN \(r:(\d+), session\))$/;
const ANSWERED = /^Inbound: (?:Received SERVICE_ACCEPT \((\S+)\)|CHANNEL_OPEN_CONFIRMATION \(r:(\d+), s:\d+\))$/;

interface ChannelInternals {
  incoming: { window: number };
  outgoing: { id: number; state: string };
  _protocol: { channelWindowAdjust(id: number, amount: number): void };
  push(data: Buffer | null): unknown;
}

function internalsOf(sftp: SFTPWrapper): ChannelInternals | undefined {
  const channel = sftp as unknown as Partial<ChannelInternals>;
  const usable =
    typeof channel.incoming?.window === 'number' &&
    typeof channel.outgoing?.id === 'number' &&
    typeof channel._protocol?.channelWindowAdjust === 'function' &&
    typeof channel.push === 'function';
  return usable ? (channel as ChannelInternals) : undefined;
}

/** A channel's widened window. */
export interface ReceiveWindow {
  /** Keeps `bytes` from now on: a wider window at once, a narrower one as the server uses up what it was given. */
  resize(bytes: number): void;
}

/**
 * Widens `sftp`'s receive window to `bytes` and keeps it there; undefined if
 * ssh2's internals are not as expected (the window is then left alone).
 */
export function widenReceiveWindow(sftp: SFTPWrapper, initialBytes = RECEIVE_WINDOW_BYTES): ReceiveWindow | undefined {
  const channel = internalsOf(sftp);
  if (!channel) return undefined;
  let bytes = initialBytes;
  let step = Math.floor(bytes / 16);
  const topUp = () => {
    const amount = bytes - channel.incoming.window;
    if (amount < step || channel.outgoing.state === 'closed') return;
    channel.incoming.window += amount;
    channel._protocol.channelWindowAdjust(channel.outgoing.id, amount);
  };
  // ssh2 lowers incoming.window by each CHANNEL_DATA's length, then calls push,
  // then adds its own top-up only if the window fell to 1 MiB: topping up here
  // keeps it above that, so ssh2's own adjustment never runs.
  const push = channel.push.bind(channel);
  channel.push = (data) => {
    const result = push(data);
    if (data !== null) topUp();
    return result;
  };
  topUp();
  return {
    resize: (next) => {
      bytes = next;
      step = Math.floor(bytes / 16);
      topUp();
    },
  };
}

/**
 * The receive windows of one SSH connection's SFTP channels: together the
 * link's window (`bytes`, from receiveWindowFor), shared equally by the open
 * channels, each at least RECEIVE_WINDOW_BYTES. A channel that closes leaves
 * its share to the others.
 */
export class ConnectionWindows {
  private readonly windows = new Map<SFTPWrapper, ReceiveWindow>();

  constructor(readonly bytes: number) {}

  /** Widens `sftp`'s window to its share; false if ssh2's internals are not as expected. */
  add(sftp: SFTPWrapper): boolean {
    const window = widenReceiveWindow(sftp, this.share(this.windows.size + 1));
    if (!window) return false;
    this.windows.set(sftp, window);
    sftp.once('close', () => {
      this.windows.delete(sftp);
      this.reshare();
    });
    this.reshare();
    return true;
  }

  /** Each open channel's window now. */
  get eachBytes(): number {
    return this.share(this.windows.size);
  }

  private share(channels: number): number {
    return Math.max(RECEIVE_WINDOW_BYTES, Math.floor(this.bytes / Math.max(1, channels)));
  }

  private reshare(): void {
    const each = this.share(this.windows.size);
    for (const window of this.windows.values()) window.resize(each);
  }
}
