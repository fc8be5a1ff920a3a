/**
 * Everything the deploy and remove scripts ask AWS, behind one small interface, so the tests can hand the
 * scripts a fake (the API Gateway account setting, for one, has no local stand-in). The real one builds
 * one client per service and region, on first use. Credentials come from the SDK's default chain
 * (AWS_PROFILE, AWS_ACCESS_KEY_ID/…, SSO), as the AWS CLI and osls find them; AWS_USE_FIPS_ENDPOINT=true
 * sends every call to the region's FIPS endpoint.
 */
import { APIGatewayClient, GetAccountCommand } from '@aws-sdk/client-api-gateway';
import { CloudFormationClient, DescribeStacksCommand, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import {
  DeleteRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
} from '@aws-sdk/client-ecr';

export interface RegistryLogin {
  /** The registry host, <account>.dkr.ecr.<region>.amazonaws.com. */
  registry: string;
  username: string;
  /** Never printed: piped to `docker login --password-stdin`. */
  password: string;
}

export interface DeployAws {
  /** Whether the default credential chain finds credentials (no call to AWS). */
  hasCredentials(region: string): Promise<boolean>;
  /** The account's API Gateway CloudWatch Logs role in the region (GetAccount), if set. */
  apiGatewayLoggingRole(region: string): Promise<string | undefined>;
  stackExists(region: string, stack: string): Promise<boolean>;
  /** A stack output's value, if the stack and the output exist. */
  stackOutput(region: string, stack: string, key: string): Promise<string | undefined>;
  /** The deployed template's body, if the stack exists. */
  stackTemplate(region: string, stack: string): Promise<string | undefined>;
  repositoryExists(region: string, repository: string): Promise<boolean>;
  imageTagExists(region: string, repository: string, tag: string): Promise<boolean>;
  /** How many images the repository holds; undefined when there is no such repository. */
  imageCount(region: string, repository: string): Promise<number | undefined>;
  /** Deletes the repository only if it is empty (never forced). */
  deleteEmptyRepository(region: string, repository: string): Promise<void>;
  registryLogin(region: string): Promise<RegistryLogin>;
}

function notFound(error: unknown, ...names: string[]): boolean {
  return error instanceof Error && names.includes(error.name);
}

export function createAwsAdapter(): DeployAws {
  const clients = new Map<string, unknown>();
  const client = <T>(kind: string, region: string, make: () => T): T => {
    const key = `${kind}:${region}`;
    if (!clients.has(key)) clients.set(key, make());
    return clients.get(key) as T;
  };
  const cfn = (region: string) => client('cfn', region, () => new CloudFormationClient({ region }));
  const ecr = (region: string) => client('ecr', region, () => new ECRClient({ region }));
  const apigw = (region: string) => client('apigw', region, () => new APIGatewayClient({ region }));

  const describeStack = async (region: string, stack: string) => {
    try {
      const { Stacks } = await cfn(region).send(new DescribeStacksCommand({ StackName: stack }));
      return Stacks?.[0];
    } catch (error) {
      // CloudFormation says "Stack with id … does not exist" as a ValidationError.
      if (error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message)) return undefined;
      throw error;
    }
  };

  return {
    async hasCredentials(region) {
      try {
        const credentials = await cfn(region).config.credentials();
        return Boolean(credentials.accessKeyId);
      } catch {
        return false;
      }
    },
    async apiGatewayLoggingRole(region) {
      const account = await apigw(region).send(new GetAccountCommand({}));
      return account.cloudwatchRoleArn || undefined;
    },
    async stackExists(region, stack) {
      const found = await describeStack(region, stack);
      return found !== undefined && found.StackStatus !== 'DELETE_COMPLETE';
    },
    async stackOutput(region, stack, key) {
      const found = await describeStack(region, stack);
      return found?.Outputs?.find((output) => output.OutputKey === key)?.OutputValue;
    },
    async stackTemplate(region, stack) {
      if (!(await describeStack(region, stack))) return undefined;
      const { TemplateBody } = await cfn(region).send(new GetTemplateCommand({ StackName: stack, TemplateStage: 'Processed' }));
      return TemplateBody;
    },
    async repositoryExists(region, repository) {
      try {
        await ecr(region).send(new DescribeRepositoriesCommand({ repositoryNames: [repository] }));
        return true;
      } catch (error) {
        if (notFound(error, 'RepositoryNotFoundException')) return false;
        throw error;
      }
    },
    async imageTagExists(region, repository, tag) {
      try {
        await ecr(region).send(new DescribeImagesCommand({ repositoryName: repository, imageIds: [{ imageTag: tag }] }));
        return true;
      } catch (error) {
        if (notFound(error, 'ImageNotFoundException')) return false;
        throw error;
      }
    },
    async imageCount(region, repository) {
      try {
        let count = 0;
        let nextToken: string | undefined;
        do {
          const page = await ecr(region).send(new DescribeImagesCommand({ repositoryName: repository, nextToken }));
          count += page.imageDetails?.length ?? 0;
          nextToken = page.nextToken;
        } while (nextToken);
        return count;
      } catch (error) {
        if (notFound(error, 'RepositoryNotFoundException')) return undefined;
        throw error;
      }
    },
    async deleteEmptyRepository(region, repository) {
      await ecr(region).send(new DeleteRepositoryCommand({ repositoryName: repository, force: false }));
    },
    async registryLogin(region) {
      const { authorizationData } = await ecr(region).send(new GetAuthorizationTokenCommand({}));
      const data = authorizationData?.[0];
      if (!data?.authorizationToken || !data.proxyEndpoint) throw new Error(`ECR gave no registry login in ${region}`);
      const [username = 'AWS', password = ''] = Buffer.from(data.authorizationToken, 'base64').toString('utf8').split(':');
      return { registry: data.proxyEndpoint.replace(/^https:\/\//, ''), username, password };
    },
  };
}
