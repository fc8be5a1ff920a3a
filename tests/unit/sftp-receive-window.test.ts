/**
 * The SFTP receive window's sizing rule and round-trip clock
 * (core/adapters/sftp/receive-window.ts), with injected times and the debug
 * lines ssh2 writes; and its top-up on a stand-in for ssh2's channel. (Over
 * real servers, on loopback and through the delay relay:
 * tests/integration/worker-sftp-streams.test.ts.)
 */
import { EventEmitter } from 'node:events';
import type { SFTPWrapper } from 'ssh2';
import {
  ConnectionWindows,
  MAX_RECEIVE_WINDOW_BYTES,
  RECEIVE_WINDOW_BYTES,
  RoundTrips,
  receiveWindowFor,
  widenReceiveWindow,
} from '../../core/adapters/sftp/receive-window';

const MiB = 1024 * 1024;

describe('receiveWindowFor: the round trip times the target rate, between 4 and 16 MiB', () => {
  test.each([
    ['not measured', undefined, RECEIVE_WINDOW_BYTES],
    ['loopback (0.5 ms)', 0.5, RECEIVE_WINDOW_BYTES],
    ['in-region (2 ms)', 2, RECEIVE_WINDOW_BYTES],
    ['10 ms (4 MB, under 4 MiB)', 10, RECEIVE_WINDOW_BYTES],
    ['20 ms', 20, 8_000_000],
    ['30 ms', 30, 12_000_000],
    ['50 ms (capped)', 50, MAX_RECEIVE_WINDOW_BYTES],
    ['a second (a lost SYN, say: capped)', 1000, MAX_RECEIVE_WINDOW_BYTES],
    ['not a number', Number.NaN, RECEIVE_WINDOW_BYTES],
  ])('%s', (_what, roundTripMs, expected) => {
    expect(receiveWindowFor(roundTripMs)).toBe(expected);
  });

  test('the bounds are 4 and 16 MiB', () => {
    expect([RECEIVE_WINDOW_BYTES, MAX_RECEIVE_WINDOW_BYTES]).toEqual([4 * MiB, 16 * MiB]);
  });
});

describe('RoundTrips: the shortest of the setup round trips, from ssh2 debug lines', () => {
  function clockAt(): { clock: RoundTrips; at(ms: number, line: string): void } {
    let now = 0;
    const clock = new RoundTrips(() => now);
    return {
      clock,
      at: (ms, line) => {
        now = ms;
        clock.observe(line);
      },
    };
  }

  test('nothing answered yet: not measured', () => {
    const { clock, at } = clockAt();
    expect(clock.shortestMs).toBeUndefined();
    at(0, 'Outbound: Sending SERVICE_REQUEST (ssh-userauth)');
    expect(clock.shortestMs).toBeUndefined();
  });

  test('the service request and the channel open, each matched with its answer; the shortest counts', () => {
    const { clock, at } = clockAt();
    at(100, 'Outbound: Sending SERVICE_REQUEST (ssh-userauth)');
    at(100.5, 'Inbound: CHANNEL_DATA (r:0, 32768)');
    at(123, 'Inbound: Received SERVICE_ACCEPT (ssh-userauth)');
    expect(clock.shortestMs).toBe(23);
    at(200, 'Outbound: Sending CHANNEL_OPEN (r:0, session)');
    at(210, 'Outbound: Sending CHANNEL_OPEN (r:1, session)');
    at(221, 'Inbound: CHANNEL_OPEN_CONFIRMATION (r:0, s:0)');
    expect(clock.shortestMs).toBe(21);
    // Channel 1 answered 40 ms after its open: longer, so the shortest stays.
    at(250, 'Inbound: CHANNEL_OPEN_CONFIRMATION (r:1, s:7)');
    expect(clock.shortestMs).toBe(21);
  });

  test('an answer without its request, or to another channel, is no sample', () => {
    const { clock, at } = clockAt();
    at(0, 'Outbound: Sending CHANNEL_OPEN (r:3, session)');
    at(1, 'Inbound: CHANNEL_OPEN_CONFIRMATION (r:4, s:0)');
    at(2, 'Inbound: Received SERVICE_ACCEPT (ssh-userauth)');
    at(3, 'Outbound: Sending CHANNEL_REQUEST (r:3, subsystem: sftp)');
    at(4, 'Inbound: CHANNEL_SUCCESS (r:3)');
    expect(clock.shortestMs).toBeUndefined();
  });

  test('a long link measured during setup gives the wider window', () => {
    const { clock, at } = clockAt();
    at(0, 'Outbound: Sending SERVICE_REQUEST (ssh-userauth)');
    at(20, 'Inbound: Received SERVICE_ACCEPT (ssh-userauth)');
    expect(receiveWindowFor(clock.shortestMs)).toBe(8_000_000);
  });
});

/** ssh2's channel as far as the window top-up uses it: its windows, its WINDOW_ADJUSTs (recorded) and push. */
class FakeChannel extends EventEmitter {
  incoming = { window: 2 * MiB };
  outgoing = { id: 5, state: 'open' };
  adjusts: number[] = [];
  _protocol = {
    channelWindowAdjust: (id: number, amount: number) => {
      expect(id).toBe(5);
      this.adjusts.push(amount);
    },
  };
  push(_data: Buffer | null): unknown {
    return true;
  }
  /** As ssh2 does for CHANNEL_DATA: the window shrinks by its length, then push. */
  receive(bytes: number): void {
    this.incoming.window -= bytes;
    this.push(Buffer.alloc(bytes));
  }
  asWrapper(): SFTPWrapper {
    return this as unknown as SFTPWrapper;
  }
}

describe('widenReceiveWindow on a stand-in for ssh2 channel', () => {
  test('raises the window to the size asked for, and tops it up after each 1/16th used', () => {
    const channel = new FakeChannel();
    expect(widenReceiveWindow(channel.asWrapper(), 8 * MiB)).toBeDefined();
    expect(channel.adjusts).toEqual([6 * MiB]);
    expect(channel.incoming.window).toBe(8 * MiB);
    channel.receive(MiB / 4);
    expect(channel.adjusts).toHaveLength(1);
    channel.receive(MiB / 4);
    expect(channel.adjusts).toEqual([6 * MiB, MiB / 2]);
    expect(channel.incoming.window).toBe(8 * MiB);
  });

  test('leaves a channel that does not look like ssh2s alone', () => {
    expect(widenReceiveWindow({ push: () => true } as unknown as SFTPWrapper, 8 * MiB)).toBeUndefined();
  });

  test('resized narrower, tops up only once the server has used the window down to the new size', () => {
    const channel = new FakeChannel();
    const window = widenReceiveWindow(channel.asWrapper(), 8 * MiB);
    window?.resize(4 * MiB);
    channel.receive(3 * MiB);
    expect(channel.adjusts).toEqual([6 * MiB]);
    channel.receive(MiB + MiB / 4);
    expect(channel.adjusts).toEqual([6 * MiB, MiB / 4]);
    expect(channel.incoming.window).toBe(4 * MiB);
  });
});

describe('ConnectionWindows: the open channels share the link window, each keeping at least 4 MiB', () => {
  test('one channel gets the link window; a second halves both; its close gives the first all again', () => {
    const windows = new ConnectionWindows(16 * MiB);
    const first = new FakeChannel();
    expect(windows.add(first.asWrapper())).toBe(true);
    expect(first.incoming.window).toBe(16 * MiB);
    const second = new FakeChannel();
    expect(windows.add(second.asWrapper())).toBe(true);
    // The second is given its share from the start; the first is not topped up past 8 MiB any more.
    expect(second.incoming.window).toBe(8 * MiB);
    expect(windows.eachBytes).toBe(8 * MiB);
    first.receive(9 * MiB);
    expect(first.adjusts).toEqual([14 * MiB, MiB]);
    expect(first.incoming.window).toBe(8 * MiB);
    second.emit('close');
    expect(windows.eachBytes).toBe(16 * MiB);
    expect(first.incoming.window).toBe(16 * MiB);
  });

  test('at 20 ms (8 MB) two channels keep 4 MiB each, not 4 MB', () => {
    const windows = new ConnectionWindows(receiveWindowFor(20));
    const [first, second] = [new FakeChannel(), new FakeChannel()];
    windows.add(first.asWrapper());
    windows.add(second.asWrapper());
    expect(second.incoming.window).toBe(RECEIVE_WINDOW_BYTES);
    expect(windows.eachBytes).toBe(RECEIVE_WINDOW_BYTES);
  });

  test('a channel that does not look like ssh2s is not counted', () => {
    const windows = new ConnectionWindows(16 * MiB);
    const first = new FakeChannel();
    windows.add(first.asWrapper());
    expect(windows.add(Object.assign(new EventEmitter(), { push: () => true }) as unknown as SFTPWrapper)).toBe(false);
    expect(first.incoming.window).toBe(16 * MiB);
  });
});
