import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Actor } from '../../domain/actor';
import type { Clock } from '../../domain/clock';
import { ForbiddenError, UnauthorizedError } from '../../domain/errors';
import type { PrincipalDirectory } from '../../domain/ports';

/**
 * Remembers whose a principal is for `ttlMs` within one container, as API
 * Gateway caches an authorizer's answer: one DynamoDB read less per request.
 * Only principals that were found are remembered, so a newly registered one is
 * admitted at once; one removed from the directory keeps access for at most
 * `ttlMs` in the containers that saw it.
 */
export class CachedPrincipalDirectory implements PrincipalDirectory {
  private readonly known = new Map<string, { customerId: string; until: number }>();

  constructor(
    private readonly directory: PrincipalDirectory,
    private readonly clock: Clock,
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  async customerOf(principalArn: string): Promise<string | undefined> {
    const now = this.clock.now();
    const cached = this.known.get(principalArn);
    if (cached && cached.until > now) return cached.customerId;
    const customerId = await this.directory.customerOf(principalArn);
    this.known.delete(principalArn);
    if (customerId) {
      if (this.known.size >= this.maxEntries) this.known.clear();
      this.known.set(principalArn, { customerId, until: now + this.ttlMs });
    }
    return customerId;
  }
}

/** An API caller acts for the customer its principal is registered to. */
export type Caller = Actor;

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
