import { compileGlob } from '../domain/glob';
import type { SourceFile } from '../domain/ports';

/** The prefix of a listed file's path: the folder with one "/", nothing for the endpoint's base folder ("/"). */
const folderOf = (path: string) => (/^\/*$/.test(path) ? '' : path.endsWith('/') ? path : `${path}/`);

/**
 * A folder's files as a listing request sees them, whatever the kind of
 * endpoint: those whose name matches the glob (if any), named by their path
 * relative to the endpoint.
 */
export class FolderListing {
  readonly files: SourceFile[] = [];
  private readonly matches: ((name: string) => boolean) | undefined;

  constructor(
    private readonly folderPath: string,
    pattern: string | undefined,
    readonly limit: number,
  ) {
    this.matches = pattern ? compileGlob(pattern) : undefined;
  }

  add(name: string, size: number, extra: Partial<SourceFile>): void {
    if (!this.matches || this.matches(name))
      this.files.push({ path: `${folderOf(this.folderPath)}${name}`, name, size, ...extra });
  }

  get full(): boolean {
    return this.files.length >= this.limit;
  }
}
