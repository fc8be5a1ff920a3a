import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ApiClient } from './client';
import { type GlobalOptions, resolveTarget } from './config';
import { CliError, EXIT, type ExitCode, usageError } from './errors';
import { Output } from './output';

/** What every command gets: the global options, its output, and the API client (made on first use). */
export interface Context {
  options: GlobalOptions;
  out: Output;
  client(): Promise<ApiClient>;
}

export function contextOf(command: Command): Context {
  const options = command.optsWithGlobals<GlobalOptions>();
  let client: Promise<ApiClient> | undefined;
  return {
    options,
    out: new Output(Boolean(options.json)),
    client: () => {
      client ??= resolveTarget(options).then((target) => new ApiClient(target));
      return client;
    },
  };
}

/**
 * A commander action: positional arguments, then the command's options. An
 * exit code it returns becomes the process's (thrown CliErrors carry theirs).
 */
// biome-ignore lint/suspicious/noExplicitAny: commander hands actions untyped arguments
export function action(run: (context: Context, ...args: any[]) => Promise<ExitCode | undefined>) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const code = await run(contextOf(command), ...args.slice(0, -1));
    if (code !== undefined) process.exitCode = code;
  };
}

/** A secret read from a file the user names (never a command-line value, which shell history and ps would keep). */
export async function readSecretFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new CliError(
      `cannot read the ${what} file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      EXIT.USAGE,
      'USAGE',
    );
  }
}

/** Parses a whole number option, or refuses it as a usage error. */
export function integer(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw usageError(`${name} must be a whole number, not ${value}`);
    return Number(value);
  };
}
