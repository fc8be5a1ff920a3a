import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../../domain/errors';
import type { EndpointCredentials, SecretStore } from '../../domain/secrets';

interface StoredSecret<Value = EndpointCredentials> {
  name: string;
  versions: Array<{ id: string; value: Value }>;
}

/**
 * The local runtime's stand-in for Secrets Manager: one file per secret
 * (mode 0600) under a directory, each write a new version, so the API and the
 * worker processes share it as they would share Secrets Manager.
 */
export class LocalFileSecretStore implements SecretStore {
  constructor(private readonly directory: string) {}

  private file(ref: string): string {
    const id = /^local:secret:([0-9a-f-]{36})$/.exec(ref)?.[1];
    if (!id) throw new NotFoundError('unknown secret reference');
    return join(this.directory, `${id}.json`);
  }

  private async write(ref: string, secret: StoredSecret): Promise<void> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    const temporary = `${this.file(ref)}.${randomUUID()}.tmp`;
    await writeFile(temporary, JSON.stringify(secret), { mode: 0o600 });
    await rename(temporary, this.file(ref));
  }

  private async load(ref: string): Promise<StoredSecret> {
    try {
      return JSON.parse(await readFile(this.file(ref), 'utf8')) as StoredSecret;
    } catch {
      throw new NotFoundError('secret not found');
    }
  }

  async create(name: string, value: EndpointCredentials): Promise<string> {
    const ref = `local:secret:${randomUUID()}`;
    await this.write(ref, { name, versions: [{ id: randomUUID(), value }] });
    return ref;
  }

  async putVersion(ref: string, value: EndpointCredentials): Promise<void> {
    const secret = await this.load(ref);
    secret.versions.push({ id: randomUUID(), value });
    await this.write(ref, secret);
  }

  async read(ref: string): Promise<EndpointCredentials> {
    const versions = (await this.load(ref)).versions;
    const current = versions[versions.length - 1];
    if (!current) throw new NotFoundError('secret has no version');
    return current.value;
  }

  async remove(ref: string): Promise<void> {
    await rm(this.file(ref), { force: true });
  }

  /** The stack's own secrets, by name (`eft/<stage>/cursor-key`), beside the endpoints' ones. */
  private namedFile(name: string): string {
    return join(this.directory, 'named', `${encodeURIComponent(name)}.json`);
  }

  async readText(name: string): Promise<string> {
    let secret: StoredSecret<string>;
    try {
      secret = JSON.parse(await readFile(this.namedFile(name), 'utf8')) as StoredSecret<string>;
    } catch {
      throw new NotFoundError(`secret ${name} not found`);
    }
    const current = secret.versions[secret.versions.length - 1];
    if (!current) throw new NotFoundError(`secret ${name} has no version`);
    return current.value;
  }

  /**
   * What a stack's secret resource with a generated value is in AWS: the local
   * runtime creates the secret at start when it does not exist yet, and leaves
   * an existing one alone, so its value outlives restarts.
   */
  async ensureText(name: string, generate: () => string): Promise<void> {
    const file = this.namedFile(name);
    await mkdir(join(this.directory, 'named'), { recursive: true, mode: 0o700 });
    const secret: StoredSecret<string> = { name, versions: [{ id: randomUUID(), value: generate() }] };
    // 'wx': created only if absent, so two starts at once keep one value.
    await writeFile(file, JSON.stringify(secret), { mode: 0o600, flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
}
