/**
 * Replays a recording of a request's job views (the polls of a real run) through the display, as
 * `eft cp` would show it: on this terminal (a redrawn frame) or, piped, as lines. The integration test
 * runs it under a pseudo-terminal; docs/cli-progress.md's samples come from it.
 *
 *   npx tsx cli/progress/replay.ts RECORDING.json [--interval-ms N] [--frames WIDTH] [--docs FILE.md]
 *
 * RECORDING.json: {"polls": [{"at": ms since the first poll, "jobs": [job views]}]};
 * cli/progress/sample-recording.json is one of a real local-engine run.
 * --frames WIDTH prints every frame at WIDTH columns, one after another, without escape codes.
 * --docs FILE.md fills the blocks of FILE.md marked <!-- sample: SPEC --> (see sampleOf).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
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

/** Collects what is written to it; not a terminal (the line-per-update form). */
class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

/** The line-per-update output of the recording, as a pipe would receive it. */
export async function linesOf(recording: Recording): Promise<string> {
  const out = new Collect();
  await watchJobs({ ...replaying(recording), out, intervalMs: 0 });
  return out.text;
}

const SAMPLE_BLOCK = /(<!-- sample: ([^>]+?) -->\n```text\n)([\s\S]*?)(```)/g;

/** One sample of the recording: `lines` (the piped output) or `frame WIDTH INDEX` (a negative index counts from the end). */
export async function sampleOf(recording: Recording, spec: string): Promise<string> {
  const [kind, ...args] = spec.trim().split(/\s+/);
  if (kind === 'lines') return linesOf(recording);
  const [width, index] = args.map(Number);
  if (kind === 'frame' && width !== undefined && index !== undefined) {
    const frames = framesOf(recording, width);
    const frame = frames[index < 0 ? frames.length + index : index];
    if (frame) return `${frame.join('\n')}\n`;
  }
  throw new Error(`no sample "${spec}" in a recording of ${recording.polls.length} polls`);
}

/** `markdown` with every block marked <!-- sample: SPEC --> filled with that sample of the recording. */
export async function withSamples(markdown: string, recording: Recording): Promise<string> {
  const specs = [...markdown.matchAll(SAMPLE_BLOCK)].map((match) => match[2] as string);
  const samples = await Promise.all(specs.map((spec) => sampleOf(recording, spec)));
  let next = 0;
  return markdown.replace(SAMPLE_BLOCK, (_all, head: string, _spec, _body, fence: string) => `${head}${samples[next++]}${fence}`);
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'interval-ms': { type: 'string', default: '0' }, frames: { type: 'string' }, docs: { type: 'string' } },
  });
  const [file] = positionals;
  if (!file) throw new Error('usage: replay.ts RECORDING.json [--interval-ms N] [--frames WIDTH] [--docs FILE.md]');
  const recording = JSON.parse(await readFile(file, 'utf8')) as Recording;
  if (values.docs) {
    await writeFile(values.docs, await withSamples(await readFile(values.docs, 'utf8'), recording));
    return;
  }
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
