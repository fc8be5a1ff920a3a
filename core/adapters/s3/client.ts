import { S3Client } from '@aws-sdk/client-s3';
import { awsClientConfig, engineClient } from '../aws-client-config';
import { requireBucketOwner } from './bucket-owner';

/**
 * One client per process (or per simulated region locally), built from the
 * function's environment. Checksums only when an operation requires them: with
 * the SDK's default (WHEN_SUPPORTED) a stream of unknown length fails
 * client-side, and transfers stream from SFTP without knowing the length.
 * Path-style addressing is for the local emulator (EFT_S3_FORCE_PATH_STYLE=true).
 * Every request must name the bucket's expected owner (requireBucketOwner).
 */
export function createS3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  return requireBucketOwner(
    engineClient(
      new S3Client({
        ...awsClientConfig('S3', env),
        forcePathStyle: env.EFT_S3_FORCE_PATH_STYLE === 'true',
        requestChecksumCalculation: 'WHEN_REQUIRED',
      }),
    ),
  );
}

/** The S3 client for a bucket's region. */
export type S3ClientFor = (region: string) => S3Client;

/** One client per region, made when first asked for: the worker reaches customer buckets in any region. */
export function regionalS3Clients(env: NodeJS.ProcessEnv = process.env): S3ClientFor {
  const clients = new Map<string, S3Client>();
  return (region) => {
    let client = clients.get(region);
    if (!client) {
      client = createS3Client({ ...env, AWS_REGION: region });
      clients.set(region, client);
    }
    return client;
  };
}
