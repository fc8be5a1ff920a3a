/**
 * Replays a recording of a request's job views (the polls of a real run) through the display, as
 * `eft cp` would show it: on this terminal (a redrawn frame) or, piped, as lines. The integration test
 * runs it under a pseudo-terminal; docs/cli-progress.md's samples come from it.
 *
 *   npx tsx cli/progress/replay.ts RECORDING.json [--interval-ms N] [--frames WIDTH]
 *
 * RECORDING.json: {"polls": [{"at": ms since the first poll, "jobs": [job views]}]}.
 * --frames WIDTH prints every frame at WIDTH columns, one after another, without escape codes.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type LayoutMemory, layoutFrame } from './frame';
import type { ProgressJob } from './job';
import { initialState, observe } from './model';
import { watchJobs } from './watch';

export interface Recording {
  polls: Array<{ at: number; jobs: ProgressJob[] }>;
}

/** Each call returns the next poll of the recording (the last again after the end), with the clock at its time. */
export function replaying(recording: Recording) {
  let next = 0;
  let at = recording.polls[0]?.at ?? 0;
  return {
    now: () => at,
    fetchJobs: async () => {
      const poll = recording.polls[Math.min(next++, recording.polls.length - 1)];
      at = poll?.at ?? at;
      return poll?.jobs ?? [];
    },
  };
}

/** Every frame of the recording at `width` columns. */
export function framesOf(recording: Recording, width: number, maxFileBars = 10): string[][] {
  let state = initialState(recording.polls[0]?.at ?? 0);
  let previous: LayoutMemory | undefined;
  return recording.polls.map((poll) => {
    state = observe(state, poll.jobs, poll.at).state;
    const frame = layoutFrame(state, { width, maxFileBars, ...(previous ? { previous } : {}) });
    previous = frame.layout;
    return frame.lines;
  });
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'interval-ms': { type: 'string', default: '0' }, frames: { type: 'string' } },
  });
  const [file] = positionals;
  if (!file) throw new Error('usage: replay.ts RECORDING.json [--interval-ms N] [--frames WIDTH]');
  const recording = JSON.parse(await readFile(file, 'utf8')) as Recording;
  if (values.frames) {
    for (const frame of framesOf(recording, Number(values.frames))) process.stdout.write(`${frame.join('\n')}\n\n`);
    return;
  }
  await watchJobs({ ...replaying(recording), out: process.stdout, intervalMs: Number(values['interval-ms']) });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
