import middy from '@middy/core';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { answerJobsStreamResource } from '../../core/control-plane/notifications/jobs-stream-resource';
import { buildJobsStreamResource } from '../../core/runtime/notifications';

/** Custom::JobsStream: this region's jobs stream ARN (core/control-plane/notifications/jobs-stream-resource.ts). */
const deps = buildJobsStreamResource();

export const handler = middy<CloudFormationCustomResourceEvent, void, Error, Context>().handler((event, context) =>
  answerJobsStreamResource(deps, event, context.logStreamName),
);
