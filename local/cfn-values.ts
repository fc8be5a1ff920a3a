/**
 * Resolves the few CloudFormation expressions the local runtime meets in the
 * printed service config (environment values, bucket names, queue and event
 * bus references): `Fn::Sub` with pseudo parameters, `Ref` to a resource's name
 * (a queue's Ref is its URL), and `Fn::GetAtt` of a queue's or an event bus's
 * attributes. Anything else is refused loudly, so a new expression in
 * serverless.yml is noticed rather than passed on as "[object Object]".
 */
export interface LocalPseudoParameters {
  region: string;
  accountId: string;
  partition: string;
}

export type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

export const LOCAL_ACCOUNT_ID = '000000000000';

/** What a queue's Ref resolves to; the local SQS (AWS_ENDPOINT_URL_SQS) serves it by the name at its end. */
export const localQueueUrl = (region: string, queueName: string) =>
  `https://sqs.${region}.amazonaws.com/${LOCAL_ACCOUNT_ID}/${queueName}`;
export const localQueueArn = (pseudo: LocalPseudoParameters, queueName: string) =>
  `arn:${pseudo.partition}:sqs:${pseudo.region}:${LOCAL_ACCOUNT_ID}:${queueName}`;
export const localEventBusArn = (pseudo: LocalPseudoParameters, busName: string) =>
  `arn:${pseudo.partition}:events:${pseudo.region}:${LOCAL_ACCOUNT_ID}:event-bus/${busName}`;

/** The name a named resource of these types has (its Ref, for tables, buckets and buses). */
function nameOf(resource: Resources[string] | undefined): unknown {
  const properties = resource?.Properties ?? {};
  if (resource?.Type === 'AWS::Events::EventBus') return properties.Name;
  return properties.TableName ?? properties.BucketName;
}

function getAtt(logicalId: string, attribute: string, pseudo: LocalPseudoParameters, resources: Resources): string | undefined {
  const resource = resources[logicalId];
  if (resource?.Type === 'AWS::SQS::Queue' && resource.Properties?.QueueName !== undefined) {
    const queueName = resolveValue(resource.Properties.QueueName, pseudo, resources);
    if (attribute === 'Arn') return localQueueArn(pseudo, queueName);
    if (attribute === 'QueueName') return queueName;
    if (attribute === 'QueueUrl') return localQueueUrl(pseudo.region, queueName);
  }
  if (resource?.Type === 'AWS::Events::EventBus' && resource.Properties?.Name !== undefined) {
    const busName = resolveValue(resource.Properties.Name, pseudo, resources);
    if (attribute === 'Arn') return localEventBusArn(pseudo, busName);
    if (attribute === 'Name') return busName;
  }
  return undefined;
}

export function resolveValue(value: unknown, pseudo: LocalPseudoParameters, resources: Resources = {}): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value && typeof value === 'object') {
    const expression = value as Record<string, unknown>;
    if (typeof expression['Fn::Sub'] === 'string') {
      return expression['Fn::Sub'].replace(/\$\{([^}]+)\}/g, (_match, name: string) => {
        if (name === 'AWS::Region') return pseudo.region;
        if (name === 'AWS::AccountId') return LOCAL_ACCOUNT_ID;
        if (name === 'AWS::Partition') return pseudo.partition;
        const [logicalId = '', attribute] = name.split('.');
        if (attribute) return resolveValue({ 'Fn::GetAtt': [logicalId, attribute] }, pseudo, resources);
        return resolveValue({ Ref: name }, pseudo, resources);
      });
    }
    if (typeof expression.Ref === 'string') {
      const resource = resources[expression.Ref];
      const name = nameOf(resource);
      if (name !== undefined) return resolveValue(name, pseudo, resources);
      // A queue's Ref is its URL; the local SQS (AWS_ENDPOINT_URL_SQS) serves it by name.
      if (resource?.Type === 'AWS::SQS::Queue') {
        const url = getAtt(expression.Ref, 'QueueUrl', pseudo, resources);
        if (url !== undefined) return url;
      }
    }
    const attribute = expression['Fn::GetAtt'];
    if (Array.isArray(attribute) && typeof attribute[0] === 'string' && typeof attribute[1] === 'string') {
      const resolved = getAtt(attribute[0], attribute[1], pseudo, resources);
      if (resolved !== undefined) return resolved;
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
