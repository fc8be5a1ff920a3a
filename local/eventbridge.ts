import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AwsJsonError, type AwsJsonServer, startAwsJsonServer } from './aws-json';
import { LOCAL_ACCOUNT_ID, type LocalPseudoParameters, type Resources, resolveValue } from './cfn-values';
import { checkPattern, matchesPattern } from './event-patterns';
import type { LocalSqs } from './sqs';
import type { LocalQueue } from './sqs-queue';

/** An event as EventBridge delivers it to a target. */
export interface EventBridgeEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

export interface RuleSettings {
  logicalId: string;
  name: string;
  busName: string;
  pattern: Record<string, unknown>;
  enabled: boolean;
  /** SQS queues (by ARN), with what each gets: the whole event, a constant (Input) or a part of it (InputPath). */
  targets: Array<{ id: string; queueArn: string; input?: string; inputPath?: string }>;
}

/** EventBridge's time format: ISO 8601 to the second. */
export const eventTime = (date: Date) => `${date.toISOString().slice(0, 19)}Z`;

/** A bus named by name or by ARN (…:event-bus/<name>). */
const busNameOf = (nameOrArn: string) =>
  nameOrArn.includes(':event-bus/') ? nameOrArn.slice(nameOrArn.indexOf(':event-bus/') + 11) : nameOrArn;

/**
 * The event buses (AWS::Events::EventBus, plus `default`) and rules
 * (AWS::Events::Rule) of the service's resources. A rule has an EventPattern
 * (an object, or JSON text) and SQS targets (`Arn: Fn::GetAtt [Queue, Arn]`),
 * with the whole event, Input or InputPath; anything the local EventBridge
 * cannot do as EventBridge would (schedule expressions, other targets,
 * InputTransformer) is refused when the stack starts.
 */
export function eventBusesOfResources(
  resources: Resources,
  pseudo: LocalPseudoParameters,
): { buses: string[]; rules: RuleSettings[] } {
  const buses = ['default'];
  const rules: RuleSettings[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    const properties = resource.Properties ?? {};
    if (resource.Type === 'AWS::Events::EventBus') buses.push(resolveValue(properties.Name, pseudo, resources));
    if (resource.Type !== 'AWS::Events::Rule') continue;
    if (properties.ScheduleExpression !== undefined) {
      throw new Error(`rule ${logicalId} has a ScheduleExpression: locally only functions' schedule events tick`);
    }
    const pattern = typeof properties.EventPattern === 'string' ? JSON.parse(properties.EventPattern) : properties.EventPattern;
    checkPattern(pattern, `rule ${logicalId}'s EventPattern`);
    const targets = ((properties.Targets as Array<Record<string, unknown>> | undefined) ?? []).map((target) => {
      const arn = resolveValue(target.Arn, pseudo, resources);
      if (!arn.includes(':sqs:'))
        throw new Error(`rule ${logicalId}'s target ${arn}: the local EventBridge delivers to SQS queues only`);
      if (target.InputTransformer !== undefined) throw new Error(`rule ${logicalId}: InputTransformer is not emulated`);
      return {
        id: String(target.Id),
        queueArn: arn,
        ...(target.Input !== undefined ? { input: String(target.Input) } : {}),
        ...(target.InputPath !== undefined ? { inputPath: String(target.InputPath) } : {}),
      };
    });
    rules.push({
      logicalId,
      name: properties.Name === undefined ? logicalId : resolveValue(properties.Name, pseudo, resources),
      busName:
        properties.EventBusName === undefined ? 'default' : busNameOf(resolveValue(properties.EventBusName, pseudo, resources)),
      pattern,
      enabled: (properties.State ?? 'ENABLED') === 'ENABLED',
      targets,
    });
  }
  return { buses, rules };
}

/** `$.a.b` of the event, as a target's InputPath selects it. */
function atPath(event: unknown, path: string): unknown {
  if (path === '$') return event;
  if (!/^\$(\.[A-Za-z0-9_-]+)+$/.test(path)) throw new Error(`InputPath ${path} is not emulated (only $.a.b…)`);
  return path
    .slice(2)
    .split('.')
    .reduce<unknown>(
      (value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined),
      event,
    );
}

export interface LocalEventBridge {
  /** The endpoint (AWS_ENDPOINT_URL_EVENTBRIDGE). */
  url: string;
  /**
   * Puts an event, as it is, on a bus: what another bus's rule does when it
   * forwards an event (the customer's rule forwarding its S3 events keeps
   * their account). Returns the rules it matched.
   */
  deliver(busName: string, event: EventBridgeEvent): string[];
  close(): Promise<void>;
}

/**
 * A local EventBridge endpoint (the AWS JSON 1.1 protocol, PutEvents) with the
 * buses and rules of the resources: an event put on a bus goes to the targets
 * of every enabled rule of that bus whose pattern it matches, as an SQS
 * message whose body is the event's JSON. PutEvents gives the event the
 * caller's account: a demo customer's (by the access key it signed with) or
 * the engine's.
 */
export async function startEventBridge(options: {
  buses: string[];
  rules: RuleSettings[];
  region: string;
  sqs: LocalSqs;
  /** Access key → account, for PutEvents' `account`. */
  accounts?: Record<string, string>;
  port?: number;
  host?: string;
}): Promise<LocalEventBridge> {
  const buses = new Set(options.buses);
  const rules = options.rules.map((rule) => {
    if (!buses.has(rule.busName))
      throw new Error(`rule ${rule.logicalId} is on bus ${rule.busName}, which the resources do not declare`);
    const targets = rule.targets.map((target) => {
      const queue = options.sqs.queueByArn(target.queueArn);
      if (!queue) throw new Error(`rule ${rule.logicalId}'s target ${target.queueArn} is not a queue of the resources`);
      return { ...target, queue };
    });
    return { ...rule, targets };
  });

  const deliver = (busName: string, event: EventBridgeEvent): string[] => {
    const matched: string[] = [];
    for (const rule of rules) {
      if (!rule.enabled || rule.busName !== busName || !matchesPattern(rule.pattern, event)) continue;
      matched.push(rule.name);
      for (const target of rule.targets) send(target, event);
    }
    return matched;
  };
  const send = (target: { queue: LocalQueue; input?: string; inputPath?: string }, event: EventBridgeEvent) => {
    const body = target.input ?? JSON.stringify(target.inputPath ? atPath(event, target.inputPath) : event);
    target.queue.send({ body, senderId: 'events.amazonaws.com' });
  };

  const accountOf = (request: IncomingMessage) => {
    const accessKey = /Credential=([^/,\s]+)/.exec(String(request.headers.authorization ?? ''))?.[1];
    return (accessKey && options.accounts?.[accessKey]) || LOCAL_ACCOUNT_ID;
  };

  const putEvent = (entry: Record<string, unknown>, account: string) => {
    const busName = busNameOf(typeof entry.EventBusName === 'string' && entry.EventBusName ? entry.EventBusName : 'default');
    if (!buses.has(busName))
      return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${busName} does not exist.` };
    for (const field of ['Source', 'DetailType', 'Detail']) {
      if (typeof entry[field] !== 'string' || entry[field] === '') {
        return {
          ErrorCode: 'InvalidArgument',
          ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
        };
      }
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail as string);
    } catch {
      detail = undefined;
    }
    if (!detail || typeof detail !== 'object' || Array.isArray(detail))
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    const time = typeof entry.Time === 'number' ? new Date(entry.Time * 1000) : new Date();
    const event: EventBridgeEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.DetailType as string,
      source: entry.Source as string,
      account,
      time: eventTime(time),
      region: options.region,
      resources: Array.isArray(entry.Resources) ? entry.Resources.map(String) : [],
      detail,
    };
    deliver(busName, event);
    return { EventId: event.id };
  };

  const server: AwsJsonServer = await startAwsJsonServer({
    targetPrefix: 'AWSEvents',
    contentType: 'application/x-amz-json-1.1',
    errorNamespace: '',
    port: options.port,
    host: options.host,
    operations: {
      PutEvents: (input, request) => {
        const entries = input.Entries;
        if (!Array.isArray(entries) || entries.length < 1 || entries.length > 10) {
          throw new AwsJsonError(
            'ValidationException',
            "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10",
          );
        }
        const account = accountOf(request);
        const results = entries.map((entry) => putEvent(entry as Record<string, unknown>, account));
        return { FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length, Entries: results };
      },
    },
  });
  return { url: server.url, deliver, close: () => server.close() };
}
