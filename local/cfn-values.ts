/**
 * Resolves the few CloudFormation expressions the local runtime meets in the
 * printed service config (environment values, bucket names): `Fn::Sub` with
 * pseudo parameters and `Ref` to a resource's name. Anything else is refused
 * loudly, so a new expression in serverless.yml is noticed rather than passed
 * on as "[object Object]".
 */
export interface LocalPseudoParameters {
  region: string;
  accountId: string;
  partition: string;
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

export const LOCAL_ACCOUNT_ID = '000000000000';

export function resolveValue(value: unknown, pseudo: LocalPseudoParameters, resources: Resources = {}): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value && typeof value === 'object') {
    const expression = value as Record<string, unknown>;
    if (typeof expression['Fn::Sub'] === 'string') {
      return expression['Fn::Sub'].replace(/\$\{([^}]+)\}/g, (_match, name: string) => {
        if (name === 'AWS::Region') return pseudo.region;
        if (name === 'AWS::AccountId') return LOCAL_ACCOUNT_ID;
        if (name === 'AWS::Partition') return pseudo.partition;
        return resolveValue({ Ref: name }, pseudo, resources);
      });
    }
    if (typeof expression.Ref === 'string') {
      const resource = resources[expression.Ref];
      const name = resource?.Properties?.TableName ?? resource?.Properties?.BucketName;
      if (name !== undefined) return resolveValue(name, pseudo, resources);
      // A queue's Ref is its URL; the local SQS (AWS_ENDPOINT_URL_SQS) serves it by name.
      if (resource?.Type === 'AWS::SQS::Queue' && resource.Properties?.QueueName !== undefined) {
        const queueName = resolveValue(resource.Properties.QueueName, pseudo, resources);
        return `https://sqs.${pseudo.region}.amazonaws.com/${LOCAL_ACCOUNT_ID}/${queueName}`;
      }
    }
  }
  throw new Error(`the local runtime cannot resolve ${JSON.stringify(value)}`);
}

/** A function's environment as the deployed function would see it, resolved for the local region. */
export function resolveEnvironment(
  environment: Record<string, unknown> | undefined,
  pseudo: LocalPseudoParameters,
  resources: Resources,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environment ?? {}).map(([key, value]) => [key, resolveValue(value, pseudo, resources)]),
  );
}
