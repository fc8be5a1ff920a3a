import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type SftpClient from 'ssh2-sftp-client';
import type { Endpoint } from '../../domain/endpoint';
import { ConflictError } from '../../domain/errors';
import { compileGlob } from '../../domain/glob';
import type { Location } from '../../domain/location';
import type { SourceCatalog, SourceFile } from '../../domain/ports';
import type { SecretStore } from '../../domain/secrets';
import type { NetworkPolicy } from '../net/network-policy';
import { bucketOf } from '../s3/bucket-owner';
import { openSftp } from './connect';

const httpStatus = (error: unknown) => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/** S3's 403: the bucket is not the endpoint owner's, or it does not grant eft. The request is refused, not failed. */
function refusedOr(error: unknown, location: Extract<Location, { kind: 's3' }>): unknown {
  if (httpStatus(error) !== 403) return error;
  return new ConflictError(
    `S3 refused eft access to s3://${location.bucket}/${location.key} for owner ${location.owner}: the bucket is not owned by that account, or its policy does not grant eft`,
    'SOURCE_ACCESS_DENIED',
  );
}

const folderOf = (path: string) => (path.endsWith('/') ? path : `${path}/`);

/** Source metadata from S3 (HeadObject, ListObjectsV2) or SFTP (stat, readdir), at request time. */
export class LiveSourceCatalog implements SourceCatalog {
  constructor(
    private readonly s3: S3Client,
    private readonly secrets: SecretStore,
    private readonly networkPolicy: NetworkPolicy,
  ) {}

  async stat(endpoint: Endpoint, location: Location, path: string): Promise<SourceFile | undefined> {
    const name = path.split('/').pop() ?? path;
    if (location.kind === 's3') {
      try {
        const head = await this.s3.send(new HeadObjectCommand({ ...bucketOf(location), Key: location.key }));
        return { path, name, size: head.ContentLength ?? 0, version: head.VersionId ?? head.ETag };
      } catch (error) {
        if (httpStatus(error) === 404) return undefined;
        throw refusedOr(error, location);
      }
    }
    return this.withSftp(endpoint, async (client) => {
      if ((await client.exists(location.path)) !== '-') return undefined;
      const stats = await client.stat(location.path);
      return { path, name, size: stats.size, modifiedAt: stats.modifyTime };
    });
  }

  async list(
    endpoint: Endpoint,
    location: Location,
    folderPath: string,
    pattern: string | undefined,
    limit: number,
  ): Promise<SourceFile[]> {
    const matches = pattern ? compileGlob(pattern) : undefined;
    const files: SourceFile[] = [];
    const add = (name: string, size: number, extra: Partial<SourceFile>) => {
      if (!matches || matches(name)) files.push({ path: `${folderOf(folderPath)}${name}`, name, size, ...extra });
    };
    if (location.kind === 's3') {
      const prefix = folderOf(location.key);
      let token: string | undefined;
      do {
        const page = await this.s3
          .send(new ListObjectsV2Command({ ...bucketOf(location), Prefix: prefix, Delimiter: '/', ContinuationToken: token }))
          .catch((error: unknown) => {
            throw refusedOr(error, location);
          });
        for (const object of page.Contents ?? []) {
          const name = (object.Key ?? '').slice(prefix.length);
          if (name) add(name, object.Size ?? 0, { version: object.ETag });
        }
        token = page.NextContinuationToken;
      } while (token && files.length < limit);
      return files.slice(0, limit);
    }
    return this.withSftp(endpoint, async (client) => {
      for (const entry of await client.list(location.path)) {
        if (entry.type === '-') add(entry.name, entry.size, { modifiedAt: entry.modifyTime });
        if (files.length >= limit) break;
      }
      return files;
    });
  }

  private async withSftp<T>(endpoint: Endpoint, work: (client: SftpClient) => Promise<T>): Promise<T> {
    const sftp = endpoint.sftp;
    if (!sftp) throw new Error(`endpoint ${endpoint.endpointId} has no SFTP settings`);
    const credentials = endpoint.secretRef ? await this.secrets.read(endpoint.secretRef) : {};
    const session = await openSftp({ ...sftp, credentials, networkPolicy: this.networkPolicy });
    try {
      return await work(session.client);
    } finally {
      await session.close();
    }
  }
}
