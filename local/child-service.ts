import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface ChildService<Ready> {
  ready: Ready;
  child: ChildProcess;
  close(): Promise<void>;
}

/**
 * Forks a service process that prints one JSON line when it is ready, and
 * passes every later output line to `onLine` (the local runtime prints them
 * with a prefix; tests collect them). Closing sends SIGTERM and waits for exit.
 */
export async function startChildService<Ready>(
  modulePath: string,
  argument: unknown,
  options: {
    /** Arguments of the module: nothing secret (argv is visible to every user), e.g. a role. */
    args?: string[];
    execArgv?: string[];
    onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  } = {},
): Promise<ChildService<Ready>> {
  // Options go by environment, not argv: they can hold credentials, and argv is visible to every user (ps).
  const child = fork(modulePath, options.args ?? [], {
    env: { ...process.env, EFT_CHILD_OPTIONS: JSON.stringify(argument) },
    execArgv: options.execArgv ?? [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // 'close' comes after 'exit' once the output pipes are drained: every line has been seen.
  const exited = once(child, 'close');
  const stderr = createInterface({ input: child.stderr as NodeJS.ReadableStream });
  const recentErrors: string[] = [];
  stderr.on('line', (line) => {
    recentErrors.push(line);
    if (recentErrors.length > 20) recentErrors.shift();
    options.onLine?.(line, 'stderr');
  });
  const stdout = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const ready = new Promise<Ready>((resolve) => {
    let first = true;
    stdout.on('line', (line) => {
      if (first) {
        first = false;
        resolve(JSON.parse(line) as Ready);
      } else {
        options.onLine?.(line, 'stdout');
      }
    });
  });
  const exitedEarly = exited.then(() => {
    throw new Error(`${modulePath} exited before it was ready:\n${recentErrors.join('\n')}`);
  });
  exitedEarly.catch(() => {}); // an error only while we wait for readiness
  const value = await Promise.race([ready, exitedEarly]);
  return {
    ready: value,
    child,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
