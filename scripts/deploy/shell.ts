/** The commands the scripts run (docker, git, osls), behind an interface the tests replace with a recorder. */
import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Written to the command's standard input (a registry password), never to its arguments or the output. */
  input?: string;
}

export interface Shell {
  /** Runs a command with its output shown; rejects when it fails. */
  run(cmd: string, args: string[], options?: RunOptions): Promise<void>;
  /** Runs a command and returns its standard output, trimmed; rejects when it fails. */
  capture(cmd: string, args: string[]): Promise<string>;
  /** Whether a command runs and exits 0 (its output dropped). */
  succeeds(cmd: string, args: string[]): Promise<boolean>;
}

export function createShell(cwd: string): Shell {
  const exec = (cmd: string, args: string[], mode: 'show' | 'capture' | 'quiet', input?: string) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(cmd, args, {
        cwd,
        stdio: [
          input === undefined ? 'ignore' : 'pipe',
          mode === 'show' ? 'inherit' : 'pipe',
          mode === 'quiet' ? 'ignore' : 'inherit',
        ],
      });
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
      });
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve(out.trim()) : reject(new Error(`${cmd} ${args[0] ?? ''} exited with ${code}`)),
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  return {
    run: async (cmd, args, options) => {
      await exec(cmd, args, 'show', options?.input);
    },
    capture: (cmd, args) => exec(cmd, args, 'capture'),
    succeeds: (cmd, args) =>
      exec(cmd, args, 'quiet').then(
        () => true,
        () => false,
      ),
  };
}
