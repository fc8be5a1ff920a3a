/**
 * util-linux `script`'s log (--log-out) and its classic timing file (--log-timing: "delay bytes" per
 * line) as asciicast v2 output events: [seconds since start, "o", text].
 */
import { StringDecoder } from 'node:string_decoder';

export type CastEvent = [number, 'o', string];

export function castEvents(log: Buffer, timing: string): CastEvent[] {
  // The log opens with a "Script started on …" line; the timed bytes follow it.
  let offset = log.indexOf(0x0a) + 1;
  let at = 0;
  const decoder = new StringDecoder('utf8');
  const events: CastEvent[] = [];
  for (const line of timing.split('\n')) {
    const [delay, bytes] = line.trim().split(/\s+/);
    if (!delay || !bytes) continue;
    at += Number(delay);
    // A character split between two reads stays in the decoder until its last byte arrives.
    const text = decoder.write(log.subarray(offset, offset + Number(bytes)));
    offset += Number(bytes);
    if (text) events.push([Math.round(at * 1e6) / 1e6, 'o', text]);
  }
  return events;
}

export function asciicast(
  events: CastEvent[],
  header: { width: number; height: number; title: string; timestamp: number },
): string {
  const head = { version: 2, ...header, env: { SHELL: '/bin/bash', TERM: 'xterm-256color' } };
  return `${[JSON.stringify(head), ...events.map((e) => JSON.stringify(e))].join('\n')}\n`;
}
