// A fixture service definition for tests of the local runtime's event sources: functions, queues,
// a bus and rules added to the printed service config (LocalStackOptions.amendConfig), read by the
// local runtime exactly as it reads the engine's own.
import type { RegionFile, ServiceConfig } from '../../local/service-config';

export const FIXTURE_QUEUES = {
  /** Consumed by recordMessages (batches of up to 10, ReportBatchItemFailures); DLQ after 2 receives. */
  messages: 'eft-fixture-messages',
  messagesDeadLetter: 'eft-fixture-messages-dlq',
  /** What recordMessages received, and the ticks recordTick got. */
  recordedMessages: 'eft-fixture-recorded-messages',
  recordedTicks: 'eft-fixture-recorded-ticks',
  /** Nobody consumes it: for the SQS protocol itself. */
  scratch: 'eft-fixture-scratch',
  /** Targets of the fixture rules. */
  objectsCreated: 'eft-fixture-objects-created',
  patterned: 'eft-fixture-patterned',
};
export const FIXTURE_BUS = 'eft-fixture-bus';
/** The visibility timeout the fixture queues declare (scaled by the stack's visibilityScale). */
export const FIXTURE_VISIBILITY_SECONDS = 30;

const queue = (name: string, extra: Record<string, unknown> = {}) => ({
  Type: 'AWS::SQS::Queue',
  Properties: { QueueName: name, VisibilityTimeout: FIXTURE_VISIBILITY_SECONDS, ...extra },
});
const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

export function withEventFixtures(config: ServiceConfig, _region: RegionFile): ServiceConfig {
  const stage = config.provider.stage;
  const resources = { ...config.resources.Resources };
  // The engine's ingest bus, if resources/routes.yml does not declare it (yet).
  resources.IngestEventBus ??= { Type: 'AWS::Events::EventBus', Properties: { Name: `eft-${stage}-ingest` } };
  Object.assign(resources, {
    FixtureMessagesQueue: queue(FIXTURE_QUEUES.messages, {
      RedrivePolicy: { deadLetterTargetArn: arnOf('FixtureMessagesDeadLetterQueue'), maxReceiveCount: 2 },
    }),
    FixtureMessagesDeadLetterQueue: queue(FIXTURE_QUEUES.messagesDeadLetter),
    FixtureRecordedMessagesQueue: queue(FIXTURE_QUEUES.recordedMessages),
    FixtureRecordedTicksQueue: queue(FIXTURE_QUEUES.recordedTicks),
    FixtureScratchQueue: queue(FIXTURE_QUEUES.scratch),
    FixtureObjectsCreatedQueue: queue(FIXTURE_QUEUES.objectsCreated),
    FixturePatternedQueue: queue(FIXTURE_QUEUES.patterned),
    FixtureBus: { Type: 'AWS::Events::EventBus', Properties: { Name: FIXTURE_BUS } },
    // As the engine's rule: customers' S3 "Object Created" events on the ingest bus, but not under ignored/.
    FixtureObjectCreatedRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { Ref: 'IngestEventBus' },
        EventPattern: {
          source: ['aws.s3'],
          'detail-type': ['Object Created'],
          detail: { object: { key: [{ 'anything-but': { prefix: 'ignored/' } }] } },
        },
        State: 'ENABLED',
        Targets: [{ Id: 'observed', Arn: arnOf('FixtureObjectsCreatedQueue') }],
      },
    },
    FixturePatternRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { 'Fn::GetAtt': ['FixtureBus', 'Name'] },
        EventPattern: JSON.stringify({
          source: [{ prefix: 'fixture.' }],
          'detail-type': ['Thing Happened'],
          account: [{ exists: true }],
          detail: { colour: ['red', 'green'], size: [{ numeric: ['>', 10] }], note: [{ exists: false }] },
        }),
        Targets: [{ Id: 'patterned', Arn: arnOf('FixturePatternedQueue') }],
      },
    },
    FixtureDisabledRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: FIXTURE_BUS,
        EventPattern: { source: [{ prefix: 'fixture.' }] },
        State: 'DISABLED',
        Targets: [{ Id: 'patterned', Arn: arnOf('FixturePatternedQueue') }],
      },
    },
  });
  return {
    ...config,
    provider: {
      ...config.provider,
      environment: {
        ...config.provider.environment,
        RECORDED_MESSAGES_QUEUE_URL: { Ref: 'FixtureRecordedMessagesQueue' },
        RECORDED_TICKS_QUEUE_URL: { Ref: 'FixtureRecordedTicksQueue' },
      },
    },
    functions: {
      ...config.functions,
      fixtureRecordMessages: {
        handler: 'tests/support/event-recorder.recordMessages',
        events: [
          {
            sqs: {
              arn: arnOf('FixtureMessagesQueue'),
              batchSize: 10,
              functionResponseType: 'ReportBatchItemFailures',
            },
          },
        ],
      },
      fixtureRecordTick: { handler: 'tests/support/event-recorder.recordTick', events: [{ schedule: 'rate(5 minutes)' }] },
    },
    resources: { ...config.resources, Resources: resources },
  };
}
