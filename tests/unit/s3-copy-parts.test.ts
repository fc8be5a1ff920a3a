import type { HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { holdsSameContent, partSizeFor, planParts } from '../../core/adapters/s3/server-side-copy';
import { DEFAULT_S3_COPY_CONFIG, S3_LIMITS, s3CopyConfigFromEnv } from '../../core/adapters/s3/server-side-copy-config';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

describe('part size of a multipart copy', () => {
  it.each([
    ['30 GB', 30e9, 256 * MiB],
    ['30 GiB', 30 * GiB, 256 * MiB],
    ['2.4 TiB', 2.4 * TiB, 256 * MiB],
    ['2.5 TiB', 2.5 * TiB, 263 * MiB],
    ['3 TiB', 3 * TiB, 315 * MiB],
    ['5 TiB (the S3 maximum)', S3_LIMITS.maxObjectBytes, 525 * MiB],
  ])('fits %s into at most 10,000 parts within S3 part limits', (_label, size, expected) => {
    const partSize = partSizeFor(size, DEFAULT_S3_COPY_CONFIG);
    expect(partSize).toBe(expected);
    expect(Math.ceil(size / partSize)).toBeLessThanOrEqual(S3_LIMITS.maxParts);
    expect(partSize).toBeGreaterThanOrEqual(S3_LIMITS.minPartBytes);
    expect(partSize).toBeLessThanOrEqual(S3_LIMITS.maxPartBytes);
    expect(partSize % MiB).toBe(0);
  });

  it('raises a small configured part size until the object fits 10,000 parts', () => {
    const partSize = partSizeFor(S3_LIMITS.maxObjectBytes, { ...DEFAULT_S3_COPY_CONFIG, partSizeBytes: 5 * MiB });
    expect(Math.ceil(S3_LIMITS.maxObjectBytes / partSize)).toBeLessThanOrEqual(S3_LIMITS.maxParts);
  });

  it('never goes below the 5 MiB S3 minimum, unless the floor is lowered (tests only)', () => {
    expect(partSizeFor(100 * MiB, { partSizeBytes: MiB, minPartSizeBytes: S3_LIMITS.minPartBytes })).toBe(5 * MiB);
    expect(partSizeFor(100 * MiB, { partSizeBytes: MiB, minPartSizeBytes: MiB })).toBe(MiB);
  });
});

describe('part plan', () => {
  it('covers the object with contiguous, inclusive ranges and a short last part', () => {
    expect(planParts(5.5 * MiB, 2 * MiB)).toEqual([
      { partNumber: 1, first: 0, last: 2 * MiB - 1 },
      { partNumber: 2, first: 2 * MiB, last: 4 * MiB - 1 },
      { partNumber: 3, first: 4 * MiB, last: 5.5 * MiB - 1 },
    ]);
  });

  it('has no empty last part when the size is a multiple of the part size', () => {
    expect(planParts(4 * MiB, 2 * MiB)).toHaveLength(2);
  });

  it('plans 5 TiB in at most 10,000 parts that add up to the object', () => {
    const size = S3_LIMITS.maxObjectBytes;
    const parts = planParts(size, partSizeFor(size, DEFAULT_S3_COPY_CONFIG));
    expect(parts.length).toBeLessThanOrEqual(S3_LIMITS.maxParts);
    expect(parts.reduce((sum, p) => sum + (p.last - p.first + 1), 0)).toBe(size);
    expect(parts.at(-1)?.last).toBe(size - 1);
  });
});

describe('whether a target already holds the source', () => {
  const source = { size: 10, etag: '"abc"' };

  it.each<[string, boolean, Pick<HeadObjectCommandOutput, 'ContentLength' | 'ETag' | 'Metadata'>]>([
    ['the same ETag (single-part copy, or the same upload)', true, { ContentLength: 10, ETag: '"abc"' }],
    [
      'its own ETag but the engine’s source ETag (multipart or SSE-KMS copy)',
      true,
      { ContentLength: 10, ETag: '"def-3"', Metadata: { 'eft-source-etag': 'abc' } },
    ],
    ['another ETag and no engine metadata', false, { ContentLength: 10, ETag: '"def"' }],
    ['the source ETag but another size', false, { ContentLength: 11, ETag: '"abc"' }],
    ['the engine metadata but another size', false, { ContentLength: 9, ETag: '"def"', Metadata: { 'eft-source-etag': 'abc' } }],
    ['the metadata of another source', false, { ContentLength: 10, ETag: '"def"', Metadata: { 'eft-source-etag': 'xyz' } }],
  ])('with %s: %s', (_label, expected, target) => {
    expect(holdsSameContent(source, target)).toBe(expected);
  });
});

describe('copy settings from the environment', () => {
  it('defaults to CopyObject up to 5 GiB, 256 MiB parts, 8 at a time', () => {
    expect(s3CopyConfigFromEnv({})).toEqual({
      multipartThresholdBytes: 5 * GiB,
      partSizeBytes: 256 * MiB,
      partConcurrency: 8,
      minPartSizeBytes: 5 * MiB,
      checkpointIntervalMs: 1000,
    });
  });

  it('reads the thresholds, part size and concurrency', () => {
    const config = s3CopyConfigFromEnv({
      COPY_MULTIPART_THRESHOLD_BYTES: String(100 * MiB),
      COPY_PART_SIZE_BYTES: String(64 * MiB),
      COPY_PART_CONCURRENCY: '4',
    });
    expect(config).toMatchObject({ multipartThresholdBytes: 100 * MiB, partSizeBytes: 64 * MiB, partConcurrency: 4 });
  });

  it.each([
    ['COPY_PART_CONCURRENCY', 'eight'],
    ['COPY_PART_CONCURRENCY', '0'],
    ['COPY_PART_SIZE_BYTES', String(MiB)],
    ['COPY_PART_SIZE_BYTES', String(6 * GiB)],
    ['COPY_MULTIPART_THRESHOLD_BYTES', String(6 * GiB)],
  ])('refuses %s=%s at start-up', (name, value) => {
    expect(() => s3CopyConfigFromEnv({ [name]: value })).toThrow(name);
  });
});
