/**
 * A wider SSH receive window for the SFTP channel, so downloads over a long
 * link are not capped at ~1 MiB per round trip.
 *
 * Why: SSH flow control lets the server send only as many bytes as the
 * client's channel window allows. ssh2 opens every channel with a 2 MiB window
 * and tops it up only once half of it is used, so about 1 MiB is in flight on
 * average, whatever the reader's request window: long links are capped.
 *
 * How: the window is raised to RECEIVE_WINDOW_BYTES right after the channel
 * opens (one WINDOW_ADJUST) and topped up again after every 1/16th of it is
 * used, so 15/16 of it stay available to the server. The server cannot send
 * more than the reader asked for (its own window of READs), so memory stays
 * bounded by the reader as before.
 *
 * Why 4 MiB, not the reader's 16: when the client is the slower side, sshd
 * buffers up to the window and its CPU grows faster than the window does.
 * The measurements behind both choices: docs/benchmarks.md, "Tuning choices".
 *
 * The top-up hooks ssh2's SFTP channel internals (its `push` and `incoming`
 * window, which ssh2 does not expose); with an ssh2 whose channel does not
 * look like that, the window is left at ssh2's default.
 */
import type { SFTPWrapper } from 'ssh2';

export const RECEIVE_WINDOW_BYTES = 4 * 1024 * 1024;

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

/** Widens `sftp`'s receive window to `bytes` and keeps it there; returns false if ssh2's internals are not as expected. */
export function widenReceiveWindow(sftp: SFTPWrapper, bytes = RECEIVE_WINDOW_BYTES): boolean {
  const channel = internalsOf(sftp);
  if (!channel) return false;
  const step = Math.floor(bytes / 16);
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
  return true;
}
