/**
 * What must exist before a deploy touches a stack, checked first, each missing thing said with how to make it:
 * - the tools: docker (a running daemon: it builds and pushes the worker image) and git (the image tag);
 * - AWS credentials for the account;
 * - the account's API Gateway CloudWatch Logs role in each region. osls configures the stage's execution
 *   logging after deploying (serverless.yml provider.logs.restApi, roleManagedExternally: true), and API
 *   Gateway refuses that without the account-level role: the stage update would fail after the stack did.
 */
import type { DeployAws } from './aws';
import { partitionOf, REGIONS, type RegionKey } from './regions';
import type { Shell } from './shell';

/** The role name the instructions create (any name works; this one says what it is for). */
export const LOGGING_ROLE_NAME = 'apigateway-cloudwatch-logs';

/** The exact commands that create the role once per account and set it in a region. */
export function loggingRoleInstructions(region: string): string[] {
  const partition = partitionOf(region);
  const trust = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: 'apigateway.amazonaws.com' }, Action: 'sts:AssumeRole' }],
  });
  return [
    `API Gateway in ${region} has no CloudWatch Logs role for this account (GetAccount: no cloudwatchRoleArn).`,
    'Create the role once per account, and set it in each region (an account-wide setting shared with other APIs):',
    `  aws iam create-role --role-name ${LOGGING_ROLE_NAME} --assume-role-policy-document '${trust}'`,
    `  aws iam attach-role-policy --role-name ${LOGGING_ROLE_NAME} --policy-arn arn:${partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs`,
    `  aws apigateway update-account --region ${region} --patch-operations op=replace,path=/cloudwatchRoleArn,value=arn:${partition}:iam::$(aws sts get-caller-identity --query Account --output text):role/${LOGGING_ROLE_NAME}`,
  ];
}

/** Problems with the tools, one per missing tool, saying what it is needed for. */
export async function checkTools(shell: Shell, needDocker: boolean): Promise<string[]> {
  const problems: string[] = [];
  if (!(await shell.succeeds('git', ['rev-parse', 'HEAD'])))
    problems.push('git: not found, or not in a git checkout (the image tag is the commit)');
  if (needDocker && !(await shell.succeeds('docker', ['version', '--format', '{{.Server.Version}}']))) {
    problems.push('docker: not found, or its daemon is not running (it builds and pushes the worker image)');
  }
  return problems;
}

/** Problems with the account: credentials first (nothing else can be asked without them), then the logging role per region. */
export async function checkAccount(aws: DeployAws, regions: RegionKey[], needLoggingRole: boolean): Promise<string[]> {
  const first = REGIONS[regions[0] ?? 'west'];
  if (!(await aws.hasCredentials(first))) {
    return [
      'AWS credentials: none found. Set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and AWS_SESSION_TOKEN) for the GovCloud account to deploy to.',
    ];
  }
  if (!needLoggingRole) return [];
  const problems: string[] = [];
  for (const key of regions) {
    const region = REGIONS[key];
    const role = await aws.apiGatewayLoggingRole(region);
    if (!role) problems.push(...loggingRoleInstructions(region));
  }
  return problems;
}
