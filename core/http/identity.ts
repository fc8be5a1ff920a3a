import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ForbiddenError, UnauthorizedError } from '../domain/errors';

/** principal → customer, kept by the engine (never taken from the request body). */
export interface PrincipalDirectory {
  customerOf(principalArn: string): Promise<string | undefined>;
}

export interface Caller {
  customerId: string;
  /** The authenticated principal, recorded as the actor of every change. */
  principalArn: string;
}

/**
 * A role session (`arn:<partition>:sts::<account>:assumed-role/<role>/<session>`)
 * is mapped by its role, so every session of a customer's role is that customer.
 */
export function canonicalPrincipal(arn: string): string {
  const session = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(arn);
  return session ? `arn:${session[1]}:iam::${session[2]}:role/${session[3]}` : arn;
}

/** Resolves the caller that API Gateway (AWS_IAM authorization) authenticated. */
export async function resolveCaller(event: APIGatewayProxyEvent, directory: PrincipalDirectory): Promise<Caller> {
  const userArn = event.requestContext?.identity?.userArn;
  if (!userArn) throw new UnauthorizedError('the request is not signed with AWS credentials (SigV4)');
  const principalArn = canonicalPrincipal(userArn);
  const customerId = await directory.customerOf(principalArn);
  if (!customerId) throw new ForbiddenError('this principal is not registered with a customer');
  return { customerId, principalArn };
}
