import { createInterface, type Interface } from 'node:readline';

/**
 * Questions on stderr, answers from stdin. A terminal gets a prompt (a secret's
 * typing is not echoed); a pipe is read a line at a time, so scripts can answer
 * (`echo y | eft endpoints validate …`).
 */
let piped: { lines: string[]; waiting: Array<(line: string | undefined) => void>; closed: boolean } | undefined;

function pipedLine(): Promise<string | undefined> {
  if (!piped) {
    const state = { lines: [] as string[], waiting: [] as Array<(line: string | undefined) => void>, closed: false };
    piped = state;
    const reader = createInterface({ input: process.stdin, terminal: false });
    reader.on('line', (line) => {
      const waiter = state.waiting.shift();
      if (waiter) waiter(line);
      else state.lines.push(line);
    });
    reader.on('close', () => {
      state.closed = true;
      for (const waiter of state.waiting.splice(0)) waiter(undefined);
    });
  }
  const state = piped;
  const line = state.lines.shift();
  if (line !== undefined) return Promise.resolve(line);
  if (state.closed) return Promise.resolve(undefined);
  return new Promise((resolve) => state.waiting.push(resolve));
}

function terminalLine(question: string, hidden: boolean): Promise<string | undefined> {
  const reader: Interface = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    // readline echoes what is typed through _writeToOutput: only the question gets through.
    (reader as unknown as { _writeToOutput: (text: string) => void })._writeToOutput = (text) => {
      if (text.startsWith(question)) process.stderr.write(question);
    };
  }
  return new Promise((resolve) => {
    let answered = false;
    reader.question(question, (answer) => {
      answered = true;
      if (hidden) process.stderr.write('\n');
      reader.close();
      resolve(answer);
    });
    reader.on('close', () => {
      if (!answered) resolve(undefined);
    });
  });
}

/** One line from the user; undefined when stdin has ended. */
export async function ask(question: string, options: { hidden?: boolean } = {}): Promise<string | undefined> {
  if (process.stdin.isTTY) return terminalLine(question, options.hidden ?? false);
  process.stderr.write(question);
  const line = await pipedLine();
  process.stderr.write('\n');
  return line;
}

/** Yes only for y or yes; an ended stdin is no. */
export async function confirm(question: string): Promise<boolean> {
  const answer = await ask(`${question} [y/N] `);
  return /^y(es)?$/i.test(answer?.trim() ?? '');
}

/** Stops reading stdin, so that the process can exit. */
export function closePrompts(): void {
  if (piped && !piped.closed) process.stdin.destroy();
}
