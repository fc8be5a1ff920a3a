import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { sendCustomResourceReply } from '../../core/adapters/cloudformation/custom-resource';
import { answerJobsStreamResource } from '../../core/control-plane/notifications/jobs-stream-resource';
import { createLogger } from '../../core/observability/logger';

/** A stand-in for the presigned S3 URL CloudFormation waits on: it keeps every body PUT to it. */
let server: Server;
let responseUrl: string;
const replies: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      replies.push({ method: request.method, ...JSON.parse(body) });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/reply`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => {
  replies.length = 0;
});

const event = (requestType: 'Create' | 'Delete') =>
  ({
    RequestType: requestType,
    ResponseURL: responseUrl,
    StackId: 'stack-1',
    RequestId: 'request-1',
    LogicalResourceId: 'JobsStream',
    ResourceType: 'Custom::JobsStream',
    ServiceToken: 'token',
    ResourceProperties: { ServiceToken: 'token', TableName: 'eft-dev-jobs' },
    ...(requestType === 'Delete' ? { PhysicalResourceId: 'arn:stream/1' } : {}),
  }) as CloudFormationCustomResourceEvent;

const deps = (streamArnOf: (table: string) => Promise<string>) => ({
  streamArnOf,
  reply: sendCustomResourceReply,
  logger: createLogger({ service: 'test' }),
});

describe('Custom::JobsStream', () => {
  it('answers the table’s stream ARN to CloudFormation', async () => {
    await answerJobsStreamResource(
      deps(async (table) => `arn:stream/of/${table}`),
      event('Create'),
      'log-1',
    );
    expect(replies).toEqual([
      {
        method: 'PUT',
        Status: 'SUCCESS',
        PhysicalResourceId: 'arn:stream/of/eft-dev-jobs',
        Data: { StreamArn: 'arn:stream/of/eft-dev-jobs' },
        StackId: 'stack-1',
        RequestId: 'request-1',
        LogicalResourceId: 'JobsStream',
      },
    ]);
  });

  it('answers FAILED with the reason and the log stream when the table has no stream', async () => {
    await answerJobsStreamResource(
      deps(async () => {
        throw new Error('table eft-dev-jobs has no stream in this region');
      }),
      event('Create'),
      'log-1',
    );
    expect(replies[0]).toMatchObject({
      Status: 'FAILED',
      Reason: 'table eft-dev-jobs has no stream in this region (log stream log-1)',
      PhysicalResourceId: 'jobs-stream-eft-dev-jobs',
    });
  });

  it('deletes nothing and looks nothing up on Delete', async () => {
    const lookup = jest.fn(async () => 'unused');
    await answerJobsStreamResource(deps(lookup), event('Delete'), 'log-1');
    expect(lookup).not.toHaveBeenCalled();
    expect(replies[0]).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'arn:stream/1' });
  });
});
