import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { NetworkPolicy } from '../connectivity/network-policy';
import type { Endpoint } from '../domain/endpoint';
import type { SecretStore } from '../domain/secrets';
import type { Location } from '../transfers/locations';
import type { DestinationInspector } from '../transfers/orchestration';
import { bucketOf } from './s3/bucket-owner';
import { openSftp } from './sftp/connect';

/** Reads the size (and ETag) of what a destination holds: HeadObject on S3, stat on SFTP. */
export class LiveDestinationInspector implements DestinationInspector {
  constructor(
    private readonly s3: S3Client,
    private readonly secrets: SecretStore,
    private readonly networkPolicy: NetworkPolicy,
  ) {}

  async inspect(endpoint: Endpoint, location: Location): Promise<{ bytes: number; etag?: string } | undefined> {
    if (location.kind === 's3') {
      try {
        const head = await this.s3.send(new HeadObjectCommand({ ...bucketOf(location), Key: location.key }));
        return { bytes: head.ContentLength ?? 0, ...(head.ETag ? { etag: head.ETag } : {}) };
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
