import { HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { Endpoint } from '../../domain/endpoint';
import type { Location } from '../../domain/location';
import type { DestinationInspector, DestinationState } from '../../domain/ports';
import type { SecretStore } from '../../domain/secrets';
import type { NetworkPolicy } from '../net/network-policy';
import { bucketOf } from './bucket-owner';
import { reportedChecksum } from './checksum';
import { openSftp } from '../sftp/connect';

/**
 * Reads the size (and ETag, and S3's SHA-256 checksum if the object has one) of what a destination
 * holds: HeadObject on S3 (with ChecksumMode ENABLED: S3 returns the checksum only when asked), stat on SFTP.
 */
export class LiveDestinationInspector implements DestinationInspector {
  constructor(
    private readonly s3: S3Client,
    private readonly secrets: SecretStore,
    private readonly networkPolicy: NetworkPolicy,
  ) {}

  async inspect(endpoint: Endpoint, location: Location): Promise<DestinationState | undefined> {
    if (location.kind === 's3') {
      try {
        const head = await this.s3.send(
          new HeadObjectCommand({ ...bucketOf(location), Key: location.key, ChecksumMode: 'ENABLED' }),
        );
        return s3DestinationState(head);
      } catch (error) {
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
        throw error;
      }
    }
    const sftp = endpoint.sftp;
    if (!sftp) throw new Error(`endpoint ${endpoint.endpointId} has no SFTP settings`);
    const credentials = endpoint.secretRef ? await this.secrets.read(endpoint.secretRef) : {};
    const session = await openSftp({ ...sftp, credentials, networkPolicy: this.networkPolicy });
    try {
      const exists = await session.client.exists(location.path);
      if (!exists) return undefined;
      return { bytes: (await session.client.stat(location.path)).size };
    } finally {
      await session.close();
    }
  }
}

/** What verification compares of an S3 object, from a HeadObject sent with ChecksumMode ENABLED. */
export function s3DestinationState(head: HeadObjectCommandOutput): DestinationState {
  const checksum = reportedChecksum(head);
  return { bytes: head.ContentLength ?? 0, ...(head.ETag ? { etag: head.ETag } : {}), ...(checksum ? { checksum } : {}) };
}
