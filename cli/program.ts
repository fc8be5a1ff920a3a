import { Command, Option } from 'commander';
import { cpCommand } from './commands/cp';
import { endpointsCommand } from './commands/endpoints';
import { jobsCommand } from './commands/jobs';
import { triggersCommands } from './commands/triggers';
import { webhooksCommand } from './commands/webhooks';

const EXIT_CODES = `
Exit codes:
  0  everything succeeded
  1  a job failed or was cancelled (their ids and error codes are printed), or a validation failed
  2  usage error (unknown command or option, missing or bad argument)
  3  the API refused the request (4xx), or what it names does not exist
  4  the API cannot be reached, does not accept the credentials, or failed (5xx)
  130  interrupted (Ctrl-C) while watching: the jobs go on`;

/** The `eft` command line. Commander's own exits (help, usage errors) are thrown, so main decides the exit code. */
export function buildProgram(): Command {
  const program = new Command('eft')
    .description('move files between SFTP servers and S3 buckets with eft')
    .addOption(
      new Option('--endpoint-url <url>', "the eft API's URL (default: the running local engine of .eft/local.json)").env(
        'EFT_ENDPOINT_URL',
      ),
    )
    .option('--profile <name>', 'the AWS profile whose credentials sign requests (default: the standard AWS chain)')
    .option('--region <region>', "the API's region (default: from the URL, AWS_REGION; locally us-gov-west-1)")
    .option(
      '--local-customer <id>',
      'against the local engine, the demo customer to act as (default customer-a): it knows only its own demo keys, not AWS credentials',
    )
    .option('--json', 'machine-readable output: only JSON on stdout (progress goes to stderr)')
    .addHelpText('after', EXIT_CODES)
    .exitOverride()
    .showHelpAfterError('(eft --help, or eft <command> --help, says more)');
  endpointsCommand(program);
  cpCommand(program);
  jobsCommand(program);
  triggersCommands(program);
  webhooksCommand(program);
  return program;
}
