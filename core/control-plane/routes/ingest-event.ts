/**
 * The S3 "Object Created" event as EventBridge delivers it (the body of an
 * S3EventsQueue message is the event's JSON). Unlike S3's own bucket
 * notifications (SNS/SQS/Lambda), EventBridge's S3 events carry the object key
 * as it is, NOT URL-encoded: `a b+c.txt` arrives as `a b+c.txt`.
 *
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
 */
import { z } from 'zod';

/** The sequencers are compared left-padded to this many hex digits (S3's are 16 to 18 today). */
export const SEQUENCER_WIDTH = 64;

const account = z.string().regex(/^\d{12}$/, 'is not a 12-digit AWS account id');

export const ObjectCreatedEventSchema = z.object({
  /** EventBridge's id of the event: recorded on the job (trigger.eventId). The same event delivered twice has the same id. */
  id: z.string().min(1).max(128),
  'detail-type': z.literal('Object Created'),
  source: z.literal('aws.s3'),
  /** The account of the bucket's owner, as S3 (EventBridge) stamps it: checked against the route's s3.bucketOwner. */
  account,
  time: z.string().min(1),
  region: z.string().min(1),
  detail: z.object({
    bucket: z.object({ name: z.string().min(3).max(255) }),
    object: z.object({
      /** S3 keys are at most 1,024 bytes of UTF-8. */
      key: z
        .string()
        .min(1)
        .refine((key) => Buffer.byteLength(key, 'utf8') <= 1024, 'is longer than 1024 bytes'),
      size: z.number().int().nonnegative(),
      etag: z.string().min(1).max(128),
      /** Set in a versioned bucket; absent, or S3's "null" version, otherwise (both read as no version). */
      'version-id': z.string().min(1).max(1024).optional(),
      /** Orders the events of one key: a greater (hex) value happened later. */
      sequencer: z
        .string()
        .regex(/^[0-9A-Fa-f]+$/, 'is not hexadecimal')
        .max(SEQUENCER_WIDTH, `is longer than ${SEQUENCER_WIDTH} hex digits`),
    }),
    reason: z.string().optional(),
  }),
});

export type ObjectCreatedEvent = z.infer<typeof ObjectCreatedEventSchema>;

/** The parts of an event that route ingestion acts on. */
export interface ObjectCreated {
  eventId: string;
  account: string;
  bucket: string;
  key: string;
  size: number;
  etag: string;
  versionId?: string;
  /** Left-padded to SEQUENCER_WIDTH, upper case: compares as a string exactly as the numbers compare. */
  sequencer: string;
}

export type ParsedEvent = { ok: true; event: ObjectCreated } | { ok: false; detail: string };

/** Reads an SQS message body; anything but a well-formed Object Created event is `ok: false` with what is wrong. */
export function parseObjectCreated(body: string): ParsedEvent {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, detail: 'the message body is not JSON' };
  }
  const parsed = ObjectCreatedEventSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      detail: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; '),
    };
  }
  const { id, account: owner, detail } = parsed.data;
  const object = detail.object;
  return {
    ok: true,
    event: {
      eventId: id,
      account: owner,
      bucket: detail.bucket.name,
      key: object.key,
      size: object.size,
      // S3 quotes ETags in its API responses but not in events; either way the same version compares equal.
      etag: object.etag.replace(/^"|"$/g, ''),
      ...(object['version-id'] && object['version-id'] !== 'null' ? { versionId: object['version-id'] } : {}),
      sequencer: normalizeSequencer(object.sequencer),
    },
  };
}

/**
 * S3 documents that sequencers of one key compare as hex after the shorter is
 * left-padded with zeros; padding every one to a fixed width makes a plain
 * string comparison (DynamoDB's, in a ConditionExpression) the same order.
 */
export function normalizeSequencer(sequencer: string): string {
  return sequencer.toUpperCase().padStart(SEQUENCER_WIDTH, '0');
}
