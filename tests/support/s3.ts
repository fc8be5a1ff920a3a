import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../core/adapters/s3/client';

/** The engine's S3 client (createS3Client) against a local S3 emulator (startS3). */
export function localS3Client(endpoint: string): S3Client {
  return createS3Client({
    AWS_REGION: 'us-gov-west-1',
    AWS_ENDPOINT_URL_S3: endpoint,
    EFT_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  });
}

/** An object's bytes, read whole (test objects are small). */
export async function readObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

/** The same, or undefined when there is no such object (or it cannot be read). */
export function readObjectIfAny(s3: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  return readObject(s3, bucket, key).catch(() => undefined);
}
