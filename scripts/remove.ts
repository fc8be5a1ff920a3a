/**
 * npm run remove -- --stage <stage> [--region west|east] [--dry-run|--noDeploy]
 * Removes the stage's region stacks (east, then west) and says what the templates keep (scripts/deploy/retained.ts).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseRemoveArgs, UsageError } from './deploy/args';
import { createAwsAdapter } from './deploy/aws';
import { remove } from './deploy/run';
import { createShell } from './deploy/shell';

const root = resolve(__dirname, '..');

async function main(): Promise<number> {
  let options: ReturnType<typeof parseRemoveArgs>;
  try {
    options = parseRemoveArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    for (const problem of error.problems) console.error(problem);
    return 2;
  }
  return remove(options, {
    aws: createAwsAdapter(),
    shell: createShell(root),
    out: (line) => console.log(line),
    now: () => new Date(),
    root,
    readFile: (path) => readFileSync(path, 'utf8'),
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    console.error(`remove failed: ${error.message}`);
    process.exitCode = 1;
  },
);
