import { S3Client } from '@aws-sdk/client-s3';
import { awsClientConfig, engineClient } from '../aws-client-config';
import { requireBucketOwner } from './bucket-owner';

/**
 * One client per process (or per simulated region locally), built from the
 * function's environment. Checksums only when an operation requires them: with
 * the SDK's default (WHEN_SUPPORTED) a stream of unknown length fails
 * client-side, and transfers stream from SFTP without knowing the length.
 * Nor does a GetObject ask for the object's checksum to check it (the SDK's
 * default does): S3 keeps a full-object checksum (CRC64NVME by default) for
 * most objects, which the SDK checks in JavaScript at ~3 CPU-s per GB, a
 * second pass over every byte that the transfer already hashes with SHA-256
 * (a staged copy's second hop is held to the first hop's SHA-256; TLS guards
 * the bytes in transit). An explicit ChecksumMode (HeadObject for
 * verification) is unaffected.
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
        responseChecksumValidation: 'WHEN_REQUIRED',
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
