/**
 * The data-plane half of the test-only LOCAL_FS kind: a file on this machine
 * as a transfer's source or target. The target writes `<final>.eft-<chain>.tmp`
 * and links it to the final name, which fails if the name exists, so nothing
 * is ever replaced and the final name never shows partial content.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, stat, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TransferError } from '../../../core/domain/transfer/errors';
import type { Committed, ExistingFile, FileSink, FileSource, FileTarget, TransferIo } from '../../../core/domain/transfer/io';

const code = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

async function sizeOf(file: string): Promise<number | undefined> {
  const found = await stat(file).catch((error: unknown) => (code(error) === 'ENOENT' ? undefined : Promise.reject(error)));
  return found?.size;
}

export class LocalFileSource implements FileSource {
  readonly location: string;

  constructor(private readonly file: string) {
    this.location = `file://${file}`;
  }

  async stat(): Promise<number> {
    const size = await sizeOf(this.file);
    if (size === undefined) throw new TransferError('SOURCE_MISSING', `${this.location} does not exist`);
    return size;
  }

  async open(offset: number): Promise<Readable> {
    return createReadStream(this.file, { start: offset });
  }

  sha256(): Promise<string> {
    return sha256Of(this.file);
  }

  failure(error: unknown): unknown {
    return error;
  }

  async reset(): Promise<void> {}
}

type CountingSink = FileSink & { bytesWritten: number };

export class LocalFileTarget implements FileTarget {
  readonly location: string;
  readonly resumesAfter = 'the bytes written';
  private written = 0;
  private sinkAt = 0;
  private current: CountingSink | undefined;

  constructor(
    private readonly file: string,
    private readonly tmpFile: string,
    private readonly io: TransferIo,
  ) {
    this.location = `file://${file}`;
  }

  async existing(): Promise<ExistingFile | undefined> {
    const bytes = await sizeOf(this.file);
    return bytes === undefined ? undefined : { bytes };
  }

  sha256(): Promise<string> {
    return sha256Of(this.file);
  }

  async prepare(): Promise<ExistingFile | undefined> {
    return this.existing();
  }

  resumeStep(): number {
    return this.io.tunables.hashMarkBytes;
  }

  kept(): number {
    return Math.max(this.written, this.current ? this.sinkAt + this.current.bytesWritten : 0);
  }

  /** What the temporary file really holds, if less than was written (it went away). */
  async resume(): Promise<number> {
    this.written = Math.min(this.kept(), (await sizeOf(this.tmpFile)) ?? 0);
    this.current = undefined;
    return this.written;
  }

  async sink(offset: number): Promise<FileSink> {
    const stream = createWriteStream(this.tmpFile, { flags: offset === 0 ? 'w' : 'r+', start: offset });
    const sink = Object.defineProperty(stream, 'position', {
      get: () => offset + stream.bytesWritten,
    }) as unknown as CountingSink;
    this.sinkAt = offset;
    this.current = sink;
    return sink;
  }

  /** link(2) refuses an existing name: the commit never replaces a file. */
  async commit(): Promise<Committed | undefined> {
    await this.io.job.confirmLease();
    try {
      await link(this.tmpFile, this.file);
    } catch (error) {
      if (code(error) === 'EEXIST') return undefined;
      throw error;
    }
    await unlink(this.tmpFile);
    return {};
  }

  async abort(): Promise<void> {
    await unlink(this.tmpFile).catch(() => undefined);
  }

  failure(error: unknown): unknown {
    return error;
  }

  async reset(): Promise<void> {}
}
