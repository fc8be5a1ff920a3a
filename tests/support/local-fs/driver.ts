/**
 * A test-only endpoint kind: a folder on this machine. It shows what adding a
 * kind takes: this folder alone (its settings join EndpointKinds by
 * declaration merging), no domain or service file.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { EndpointDriver } from '../../../core/domain/drivers';
import type { Endpoint, EndpointOf, ProbeOutcome } from '../../../core/domain/endpoint';
import { UnsupportedEndpointError } from '../../../core/domain/errors';
import type { Location } from '../../../core/domain/location';
import type { DestinationState, SourceFile } from '../../../core/domain/ports';
import type { FileSource, FileTarget, TargetOptions, TransferIo } from '../../../core/domain/transfer/io';
import { LocalFileSource, LocalFileTarget } from './files';

declare module '../../../core/domain/endpoint' {
  interface EndpointKinds {
    LOCAL_FS: { localFs: { root: string } };
  }
}

interface LocalFsLocation extends Location {
  readonly kind: 'local-fs';
  readonly file: string;
}

const missing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';

export class LocalFsDriver implements EndpointDriver {
  readonly types = ['LOCAL_FS'] as const;
  readonly kind = 'LOCAL_FS';
  readonly durable = false;

  resolve(endpoint: Endpoint, relativePath: string): LocalFsLocation {
    const file = join(this.own(endpoint).localFs.root, relativePath);
    return { kind: 'local-fs', uri: `file://${file}`, file };
  }

  samePlace(_a: Endpoint, from: Location, _b: Endpoint, to: Location): boolean {
    return from.uri === to.uri;
  }

  async probe(endpoint: Endpoint): Promise<ProbeOutcome> {
    const { root } = this.own(endpoint).localFs;
    const found = await stat(root).catch(() => undefined);
    return found?.isDirectory() ? { ok: true } : { ok: false, reason: 'PATH_MISSING', message: `${root} is not a folder` };
  }

  async stat(_endpoint: Endpoint, location: Location, path: string): Promise<SourceFile | undefined> {
    const found = await stat((location as LocalFsLocation).file).catch((error) =>
      missing(error) ? undefined : Promise.reject(error),
    );
    return found?.isFile()
      ? { path, name: path.split('/').pop() ?? path, size: found.size, modifiedAt: found.mtimeMs }
      : undefined;
  }

  async list(endpoint: Endpoint, folder: Location, folderPath: string, _pattern: string | undefined, limit: number) {
    const files: SourceFile[] = [];
    for (const name of (await readdir((folder as LocalFsLocation).file)).sort()) {
      const file = await this.stat(endpoint, this.resolve(endpoint, join(folderPath, name)), `${folderPath}/${name}`);
      if (file && files.length < limit) files.push(file);
    }
    return files;
  }

  async inspect(endpoint: Endpoint, location: Location): Promise<DestinationState | undefined> {
    const file = await this.stat(endpoint, location, '');
    return file && { bytes: file.size };
  }

  openSource(_endpoint: Endpoint, location: Location): FileSource {
    return new LocalFileSource((location as LocalFsLocation).file);
  }

  openTarget(_endpoint: Endpoint, location: Location, io: TransferIo, options: TargetOptions): FileTarget {
    const { file } = location as LocalFsLocation;
    const tag = createHash('sha256').update(options.chainId).digest('hex').slice(0, 12);
    return new LocalFileTarget(file, `${file}.eft-${tag}.tmp`, io);
  }

  private own(endpoint: Endpoint): EndpointOf<'LOCAL_FS'> {
    if (endpoint.type !== 'LOCAL_FS') throw new UnsupportedEndpointError(endpoint.endpointId, endpoint.type);
    return endpoint;
  }
}
