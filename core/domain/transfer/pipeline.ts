/**
 * Runs one attempt of a hop (a stream pipeline from a source to a destination)
 * under the transfer's abort signal, with a stall watchdog: a connection that
 * stops moving bytes without breaking (a silent peer, a dropped route) would
 * otherwise hang forever. The watchdog also reports progress as it ticks.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TransferError, toTransferError } from './errors';

export interface HopWatch {
  /** The transfer's signal: stop (SIGTERM) or lease lost. */
  signal: AbortSignal;
  stallTimeoutMs: number;
  /** The hop's position (e.g. bytes acknowledged by the destination); must grow while data moves. */
  position: () => number;
  onProgress?: (position: number) => void;
}

const MAX_TICK_MS = 1000;

/** Runs `streams` (source, transforms, destination) as one pipeline under the watch. */
export async function runPipeline(streams: ReadonlyArray<Readable | Duplex | Writable>, watch: HopWatch): Promise<void> {
  const local = new AbortController();
  const forward = () => local.abort(watch.signal.reason);
  if (watch.signal.aborted) forward();
  else watch.signal.addEventListener('abort', forward, { once: true });

  let last = watch.position();
  let lastMoved = Date.now();
  const tick = setInterval(
    () => {
      const now = Date.now();
      const position = watch.position();
      if (position !== last) {
        last = position;
        lastMoved = now;
        watch.onProgress?.(position);
      } else if (now - lastMoved >= watch.stallTimeoutMs) {
        local.abort(
          new TransferError('TIMEOUT', `no data moved for ${Math.round((now - lastMoved) / 1000)} s`, { retryable: true }),
        );
      }
    },
    Math.max(1, Math.min(MAX_TICK_MS, Math.floor(watch.stallTimeoutMs / 4))),
  );
  tick.unref();
  try {
    await pipeline(streams as unknown as NodeJS.ReadWriteStream[], { signal: local.signal });
    watch.onProgress?.(watch.position());
  } catch (err) {
    // An abort surfaces as a generic AbortError from whichever stream noticed; the reason says why.
    if (local.signal.aborted) throw toTransferError(local.signal.reason);
    throw err;
  } finally {
    clearInterval(tick);
    watch.signal.removeEventListener('abort', forward);
  }
}
