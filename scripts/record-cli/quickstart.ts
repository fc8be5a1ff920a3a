/**
 * The README's CLI quick start as something that runs: its ```sh block (one source, so the README,
 * the recording and the test that keeps it true cannot disagree), turned into a bash script that
 * shows each command as a prompt line before it runs, against a local engine of its own.
 *
 * The block runs in a fresh folder that stands in for the project folder: its .eft is the engine's
 * state folder (so `.eft/local.json`, `.eft/keys/…` and `.eft/data/sftp/…` mean what the README says),
 * and `npx eft` runs this project's bin (cli/eft.js), as it does in the project folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type LocalStack, startLocalStack } from '../../local/stack';

export const PROJECT_ROOT = resolve(__dirname, '..', '..');
export const README_PATH = join(PROJECT_ROOT, 'README.md');
const SECTION = '## The eft CLI';

/** The first ```sh block of the README's CLI section. */
export function quickStartBlock(readme: string): string {
  const start = readme.indexOf(`\n${SECTION}\n`);
  if (start < 0) throw new Error(`README.md has no "${SECTION}" section`);
  const next = readme.indexOf('\n## ', start + SECTION.length + 2);
  const section = readme.slice(start, next < 0 ? undefined : next);
  const block = /\n```sh\n([\s\S]*?)\n```/.exec(section);
  if (!block?.[1]) throw new Error(`the "${SECTION}" section has no \`\`\`sh block`);
  return block[1];
}

/** A step of the block: a comment line, a blank line, or a command (its lines, continuations joined by bash). */
export type Step = { kind: 'comment'; text: string } | { kind: 'blank' } | { kind: 'command'; lines: string[] };

export function stepsOf(block: string): Step[] {
  const steps: Step[] = [];
  let pending: string[] | undefined;
  for (const line of block.split('\n')) {
    if (pending) {
      pending.push(line);
      if (!line.endsWith('\\')) {
        steps.push({ kind: 'command', lines: pending });
        pending = undefined;
      }
    } else if (line.trim() === '') steps.push({ kind: 'blank' });
    else if (line.trimStart().startsWith('#')) steps.push({ kind: 'comment', text: line });
    else if (line.endsWith('\\')) pending = [line];
    else steps.push({ kind: 'command', lines: [line] });
  }
  if (pending) throw new Error(`the quick start ends inside a command: ${pending.join('\n')}`);
  return steps;
}

const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

export interface ScriptOptions {
  /** The folder the block runs in (its .eft is the engine's state folder). */
  workDir: string;
  /** Set the terminal's size first (the recording's fixed size). */
  terminal?: { cols: number; rows: number };
  /** Each command's index and exit code are appended to this file (the test's evidence). */
  statusFile?: string;
}

/**
 * A bash script: each command is printed as a prompt line (`$ …`, continuation lines `> …` as bash
 * shows them), then run as written; the first one that fails ends the script with its exit code.
 */
export function quickStartScript(block: string, options: ScriptOptions): string {
  const out: string[] = [
    // The project's bin, as `npx eft` finds it in the project folder (the work folder is not one).
    `npx() { if [ "$1" = eft ]; then shift; node ${quote(join(PROJECT_ROOT, 'cli', 'eft.js'))} "$@"; else command npx "$@"; fi; }`,
    `cd ${quote(options.workDir)} || exit 1`,
  ];
  if (options.terminal) out.push(`stty cols ${options.terminal.cols} rows ${options.terminal.rows}`);
  let index = 0;
  for (const step of stepsOf(block)) {
    if (step.kind === 'blank') out.push(`echo`);
    else if (step.kind === 'comment') out.push(`printf '%s\\n' ${quote(`$ ${step.text.trim()}`)}`);
    else {
      const shown = step.lines.map((line, i) => (i === 0 ? `$ ${line}` : `> ${line}`)).join('\n');
      out.push(`printf '%s\\n' ${quote(shown)}`);
      out.push(step.lines.join('\n'));
      out.push(`__rc=$?`);
      if (options.statusFile) out.push(`echo "${index} $__rc" >> ${quote(options.statusFile)}`);
      out.push(`if [ $__rc -ne 0 ]; then printf '[exit %s]\\n' "$__rc"; exit $__rc; fi`);
      index++;
    }
  }
  return `${out.join('\n')}\n`;
}

export interface QuickStartEngine {
  /** The folder the block runs in; its .eft is the engine's state. */
  workDir: string;
  stateDir: string;
  stack: LocalStack;
  close(): Promise<void>;
}

/** A local engine (as `npm start` runs it) in a fresh state folder: the quick start always starts from nothing. */
export async function startQuickStartEngine(): Promise<QuickStartEngine> {
  const workDir = await mkdtemp(join(tmpdir(), 'eft-quickstart-'));
  const stateDir = join(workDir, '.eft');
  let stack: LocalStack;
  try {
    stack = await startLocalStack({ stateDir });
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
  return {
    workDir,
    stateDir,
    stack,
    close: async () => {
      await stack.close();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
