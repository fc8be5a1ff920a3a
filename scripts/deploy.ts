/**
 * npm run deploy -- --stage <stage> [--region west|east] [--dry-run|--noDeploy] [--vpc create|existing …]
 * Builds the worker image, pushes it to each region's ECR repository and deploys the region stacks in the
 * order they need (scripts/deploy/plan.ts). README "Deploying".
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDeployArgs, UsageError } from './deploy/args';
import { createAwsAdapter } from './deploy/aws';
import { deploy } from './deploy/run';
import { createShell } from './deploy/shell';

const root = resolve(__dirname, '..');

async function main(): Promise<number> {
  let options: ReturnType<typeof parseDeployArgs>;
  try {
    options = parseDeployArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    for (const problem of error.problems) console.error(problem);
    return 2;
  }
  return deploy(options, {
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
    console.error(`deploy failed: ${error.message}`);
    process.exitCode = 1;
  },
);
