import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { TransferJob } from '../../domain/job';

function jobOf(image: Record<string, unknown> | undefined): TransferJob | undefined {
  if (!image) return undefined;
  // The table's own bookkeeping (index keys, audit events kept for the terminal write) is not the job's.
  const {
    requestKey: _requestKey,
    activeShard: _activeShard,
    auditPending: _auditPending,
    ...job
  } = unmarshall(image as Record<string, AttributeValue>);
  return job as TransferJob;
}

/** A jobs stream record's job before and after the write (NEW_AND_OLD_IMAGES), and the job's id. */
export function jobImagesOf(record: DynamoDBRecord): { before?: TransferJob; after?: TransferJob; jobId?: string } {
  const before = jobOf(record.dynamodb?.OldImage);
  const after = jobOf(record.dynamodb?.NewImage);
  return {
    ...(before ? { before } : {}),
    ...(after ? { after } : {}),
    jobId: (record.dynamodb?.Keys?.jobId as { S?: string } | undefined)?.S,
  };
}
