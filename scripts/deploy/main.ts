/**
 * What `npm run deploy` and `npm run remove` share: parse the arguments (a usage error exits 2), run the
 * command against the real AWS adapter and shell, and exit with its status.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from './args';
import { createAwsAdapter } from './aws';
import type { ScriptEnv } from './run';
import { createShell } from './shell';

const root = resolve(__dirname, '..', '..');

export function runScript<Options>(
  name: string,
  parse: (argv: string[]) => Options,
  command: (options: Options, env: ScriptEnv) => Promise<number>,
): void {
  const main = async (): Promise<number> => {
    let options: Options;
    try {
      options = parse(process.argv.slice(2));
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      for (const problem of error.problems) console.error(problem);
      return 2;
    }
    return command(options, {
      aws: createAwsAdapter(),
      shell: createShell(root),
      out: (line) => console.log(line),
      now: () => new Date(),
      root,
      readFile: (path) => readFileSync(path, 'utf8'),
    });
  };
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: Error) => {
      console.error(`${name} failed: ${error.message}`);
      process.exitCode = 1;
    },
  );
}
