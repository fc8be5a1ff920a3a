import { randomUUID } from 'node:crypto';
import { type EventBridgeEvent, eventTime } from './eventbridge';
import type { LocalBucket, S3EventRecord } from './s3';

/** The `reason` of an S3 "Object Created" event, by the notification's event name. */
const REASONS: Record<string, string> = {
  'ObjectCreated:Put': 'PutObject',
  'ObjectCreated:Post': 'PostObject',
  'ObjectCreated:Copy': 'CopyObject',
  'ObjectCreated:CompleteMultipartUpload': 'CompleteMultipartUpload',
};

/** A key as an S3 notification carries it (URL-encoded, a space as `+`), as it is. */
export const decodeNotificationKey = (key: string) => decodeURIComponent(key.replace(/\+/g, ' '));

/**
 * The EventBridge event S3 sends for an object created in a bucket with
 * EventBridge notifications on ("Object Created", source aws.s3, the bucket
 * owner's account, the key NOT URL-encoded), from the notification record the
 * local S3 gives; undefined for other events (removals).
 */
export function objectCreatedEvent(
  record: S3EventRecord,
  bucket: LocalBucket,
  region: string,
  partition = 'aws-us-gov',
): EventBridgeEvent | undefined {
  const reason = REASONS[record.eventName];
  if (!reason) return undefined;
  const { object } = record.s3;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: bucket.owner,
    time: eventTime(new Date(record.eventTime)),
    region,
    resources: [`arn:${partition}:s3:::${bucket.name}`],
    detail: {
      version: '0',
      bucket: { name: bucket.name },
      object: {
        key: decodeNotificationKey(object.key),
        ...(object.size !== undefined ? { size: object.size } : {}),
        ...(object.eTag !== undefined ? { etag: object.eTag } : {}),
        ...(object.versionId !== undefined ? { 'version-id': object.versionId } : {}),
        sequencer: object.sequencer,
      },
      'request-id': record.responseElements?.['x-amz-request-id'] ?? randomUUID(),
      // The local S3 does not tell who wrote: the bucket's owner, as when customers write their own buckets.
      requester: bucket.owner,
      'source-ip-address': record.requestParameters?.sourceIPAddress ?? '127.0.0.1',
      reason,
    },
  };
}
