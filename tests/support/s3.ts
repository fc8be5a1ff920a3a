import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** An object's bytes, read whole (test objects are small). */
export async function readObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

/** The same, or undefined when there is no such object (or it cannot be read). */
export function readObjectIfAny(s3: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  return readObject(s3, bucket, key).catch(() => undefined);
}
