import type { S3Client } from '@aws-sdk/client-s3';

/**
 * Tenant isolation of buckets (README "Bucket ownership"): the engine's roles
 * may reach any customer's bucket whose policy grants them, so a bucket name
 * alone would let one customer name another's bucket (a confused deputy).
 * Every S3 request the engine sends therefore carries ExpectedBucketOwner (and
 * a copy ExpectedSourceBucketOwner): the AWS account that the endpoint's
 * customer registered, or the engine's own for its staging bucket. S3 answers
 * 403 AccessDenied when the bucket belongs to anyone else.
 *
 * This middleware makes a forgotten owner a failure of the request before it
 * leaves the process, so no code path can skip the check silently.
 */
export class MissingBucketOwnerError extends Error {
  constructor(command: string, field: string) {
    super(`${command} was sent without ${field}: every S3 request of the engine names the bucket's expected owner`);
    this.name = 'MissingBucketOwnerError';
  }
}

/** The bucket of a request with the owner S3 must find there: spread into every S3 command's input. */
export function bucketOf(ref: { bucket: string; owner: string }): { Bucket: string; ExpectedBucketOwner: string } {
  return { Bucket: ref.bucket, ExpectedBucketOwner: ref.owner };
}

const ACCOUNT_ID = /^\d{12}$/;
/** Operations that read a second bucket (the copy source) and so need its owner too. */
const COPIES = new Set(['CopyObjectCommand', 'UploadPartCopyCommand']);

type InitializeArgs = { input: Record<string, unknown> };
type Context = { commandName?: string };
interface InitializeStep {
  add(
    middleware: (
      next: (args: InitializeArgs) => Promise<unknown>,
      context: Context,
    ) => (args: InitializeArgs) => Promise<unknown>,
    options: { step: 'initialize'; name: string; priority: 'high' },
  ): void;
}

export function requireBucketOwner(client: S3Client): S3Client {
  (client.middlewareStack as unknown as InitializeStep).add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'an S3 command';
      const { input } = args;
      if (input.Bucket !== undefined && !ACCOUNT_ID.test(String(input.ExpectedBucketOwner ?? ''))) {
        throw new MissingBucketOwnerError(command, 'ExpectedBucketOwner');
      }
      if (COPIES.has(command) && !ACCOUNT_ID.test(String(input.ExpectedSourceBucketOwner ?? ''))) {
        throw new MissingBucketOwnerError(command, 'ExpectedSourceBucketOwner');
      }
      return next(args);
    },
    { step: 'initialize', name: 'eftRequireBucketOwner', priority: 'high' },
  );
  return client;
}
