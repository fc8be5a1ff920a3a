import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { CopyObjectCommand, GetObjectCommand, HeadBucketCommand, S3Client, UploadPartCopyCommand } from '@aws-sdk/client-s3';
import { bucketOf, requireBucketOwner } from '../../core/adapters/s3/bucket-owner';
import { createS3Client } from '../../core/adapters/s3/client';

const ROOT = join(__dirname, '..', '..');
const OWNER = '111111111111';

/** A guarded client whose requests stop before the network: the test sees what would have been sent. */
function guardedClient(): { s3: S3Client; sent: string[] } {
  const sent: string[] = [];
  const s3 = requireBucketOwner(
    new S3Client({ region: 'us-gov-west-1', credentials: { accessKeyId: 'k', secretAccessKey: 's' } }),
  );
  s3.middlewareStack.add(
    (_next, context) => async () => {
      sent.push(context.commandName ?? '');
      return { output: { $metadata: {} }, response: {} } as never;
    },
    { step: 'finalizeRequest', name: 'stopBeforeTheNetwork' },
  );
  return { s3, sent };
}

describe('requireBucketOwner: no S3 request leaves without the bucket owner', () => {
  it.each([
    ['HeadBucket', new HeadBucketCommand({ Bucket: 'b' })],
    ['GetObject', new GetObjectCommand({ Bucket: 'b', Key: 'k' })],
    ['GetObject with a malformed owner', new GetObjectCommand({ Bucket: 'b', Key: 'k', ExpectedBucketOwner: '12' })],
    [
      'CopyObject without the source owner',
      new CopyObjectCommand({ ...bucketOf({ bucket: 'b', owner: OWNER }), Key: 'k', CopySource: 'a/k' }),
    ],
    [
      'UploadPartCopy without the source owner',
      new UploadPartCopyCommand({
        ...bucketOf({ bucket: 'b', owner: OWNER }),
        Key: 'k',
        CopySource: 'a/k',
        UploadId: 'u',
        PartNumber: 1,
      }),
    ],
  ])('refuses %s', async (_what, command) => {
    const { s3, sent } = guardedClient();
    await expect(s3.send(command as never)).rejects.toThrow(/was sent without Expected(Source)?BucketOwner/);
    expect(sent).toEqual([]);
  });

  it('sends requests that name the owners', async () => {
    const { s3, sent } = guardedClient();
    await s3.send(new GetObjectCommand({ ...bucketOf({ bucket: 'b', owner: OWNER }), Key: 'k' }));
    await s3.send(
      new CopyObjectCommand({
        ...bucketOf({ bucket: 'b', owner: OWNER }),
        Key: 'k',
        CopySource: 'a/k',
        ExpectedSourceBucketOwner: OWNER,
      }),
    );
    expect(sent).toEqual(['GetObjectCommand', 'CopyObjectCommand']);
  });

  it('is part of every client the engine builds', async () => {
    const s3 = createS3Client({ AWS_REGION: 'us-gov-west-1', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' });
    await expect(s3.send(new HeadBucketCommand({ Bucket: 'b' }))).rejects.toThrow(/without ExpectedBucketOwner/);
    s3.destroy();
  });

  it('guards every S3 client of the engine: none is built but by createS3Client', async () => {
    const builders: string[] = [];
    for (const dir of ['core', 'fargate-worker', 'functions']) {
      for (const file of await sourceFiles(join(ROOT, dir))) {
        if (/new S3Client\(/.test(await readFile(file, 'utf8'))) builders.push(relative(ROOT, file));
      }
    }
    expect(builders).toEqual(['core/adapters/s3/client.ts']);
  });
});

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && /\.[cm]?[tj]s$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}
