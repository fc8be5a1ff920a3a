/**
 * `eft`: the customer's command line (README "The eft CLI"). Runs a command,
 * then exits with the code scripts rely on (./errors.ts).
 */
import { CommanderError } from 'commander';
import { CliError, EXIT, type ExitCode } from './errors';
import { buildProgram } from './program';
import { closePrompts } from './prompt';

const HELP_CODES = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

function report(error: unknown, json: boolean): ExitCode {
  if (error instanceof CommanderError) {
    // Help asked for is success; help shown because a command was incomplete is a usage error.
    if (HELP_CODES.has(error.code) && error.exitCode === 0) return EXIT.OK;
    // Commander has said what was wrong on stderr; a script reading --json gets it too.
    if (json)
      process.stdout.write(`${JSON.stringify({ error: { code: 'USAGE', message: error.message, exitCode: EXIT.USAGE } })}\n`);
    return EXIT.USAGE;
  }
  const cliError =
    error instanceof CliError
      ? error
      : new CliError(`unexpected error: ${(error as Error)?.stack ?? String(error)}`, EXIT.UNREACHABLE);
  process.stderr.write(`eft: ${cliError.message}\n`);
  if (json) {
    const body = { error: { code: cliError.code ?? 'ERROR', message: cliError.message, exitCode: cliError.exitCode } };
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  }
  return cliError.exitCode;
}

async function main(): Promise<void> {
  // `eft jobs list | head`: a reader that stops early is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  let code: ExitCode | undefined;
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    code = report(error, process.argv.includes('--json'));
  } finally {
    closePrompts();
  }
  if (code !== undefined) process.exitCode = code;
}

void main();
