/**
 * What `npm start` adds to the service config locally: a customer's subscription to the engine's job
 * events, as a customer (or the operator for them) makes it in AWS (docs/notifications.md): a rule on
 * each region's default bus matching `source: eft`, targeting a queue the walkthrough reads.
 */
import type { ServiceConfig } from './service-config';

export const JOB_EVENTS_DEMO_QUEUE = 'eft-local-customer-job-events';

export function withCustomerJobEventsRule(config: ServiceConfig): ServiceConfig {
  return {
    ...config,
    resources: {
      ...config.resources,
      Resources: {
        ...config.resources.Resources,
        LocalCustomerJobEventsQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: JOB_EVENTS_DEMO_QUEUE } },
        LocalCustomerJobEventsRule: {
          Type: 'AWS::Events::Rule',
          Properties: {
            EventPattern: { source: ['eft'] },
            State: 'ENABLED',
            Targets: [{ Id: 'customer', Arn: { 'Fn::GetAtt': ['LocalCustomerJobEventsQueue', 'Arn'] } }],
          },
        },
      },
    },
  };
}
