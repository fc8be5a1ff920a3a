/**
 * Parts are signed as UNSIGNED-PAYLOAD over HTTPS (the transfer hashes every
 * byte already; TLS protects the part in transit) and by their SHA-256 over
 * plain HTTP, where nothing else would.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { S3Upload } from '../../core/adapters/s3/transfer/upload';

/** An S3 client whose requests are recorded and answered in memory. */
function recordingClient(endpoint: string) {
  const seen: Array<{ method: string; query: Record<string, unknown>; headers: Record<string, string> }> = [];
  const s3 = new S3Client({
    region: 'us-gov-west-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    requestHandler: {
      handle: async (request: { method: string; query: Record<string, unknown>; headers: Record<string, string> }) => {
        seen.push({ method: request.method, query: request.query, headers: request.headers });
        const created = request.method === 'POST' && 'uploads' in request.query;
        const body = created
          ? '<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u-1</UploadId></InitiateMultipartUploadResult>'
          : '';
        return {
          response: { statusCode: 200, headers: { etag: '"e-1"' }, body: Readable.from([Buffer.from(body)]) },
        };
      },
    } as never,
  });
  return { s3, seen };
}

const part = Buffer.alloc(1024, 7);

/** The x-amz-content-sha256 header of the part S3Upload sends to `endpoint`, and its Authorization. */
async function partSentTo(endpoint: string) {
  const { s3, seen } = recordingClient(endpoint);
  await new S3Upload(s3, { bucket: 'b', key: 'k', owner: '111111111111' }, { partSize: 1024, concurrency: 1 }).uploadPart(
    1,
    part,
    new AbortController().signal,
  );
  const sent = seen.find((r) => r.method === 'PUT');
  return { payloadHash: sent?.headers['x-amz-content-sha256'], authorization: sent?.headers.authorization };
}

describe('S3Upload part signing', () => {
  it('sends parts as UNSIGNED-PAYLOAD over HTTPS', async () => {
    const sent = await partSentTo('https://s3.example.test');
    expect(sent.payloadHash).toBe('UNSIGNED-PAYLOAD');
    expect(sent.authorization).toContain('x-amz-content-sha256');
  });

  it('signs parts by their SHA-256 over plain HTTP', async () => {
    const sent = await partSentTo('http://127.0.0.1:9');
    expect(sent.payloadHash).toBe(createHash('sha256').update(part).digest('hex'));
  });
});
