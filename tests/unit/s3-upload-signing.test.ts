/**
 * Parts are signed as UNSIGNED-PAYLOAD over HTTPS (the transfer hashes every
 * byte already; TLS protects the part in transit) and by their SHA-256 over
 * plain HTTP, where nothing else would.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { S3Upload } from '../../core/worker/s3-upload';

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

describe('S3Upload part signing', () => {
  it('sends parts as UNSIGNED-PAYLOAD over HTTPS', async () => {
    const { s3, seen } = recordingClient('https://s3.example.test');
    await new S3Upload(s3, { bucket: 'b', key: 'k' }, { partSize: 1024, concurrency: 1 }).uploadPart(
      1,
      part,
      new AbortController().signal,
    );
    const sent = seen.find((r) => r.method === 'PUT');
    expect(sent?.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    expect(sent?.headers.authorization).toContain('x-amz-content-sha256');
  });

  it('signs parts by their SHA-256 over plain HTTP', async () => {
    const { s3, seen } = recordingClient('http://127.0.0.1:9');
    await new S3Upload(s3, { bucket: 'b', key: 'k' }, { partSize: 1024, concurrency: 1 }).uploadPart(
      1,
      part,
      new AbortController().signal,
    );
    const sent = seen.find((r) => r.method === 'PUT');
    expect(sent?.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(part).digest('hex'));
  });
});
