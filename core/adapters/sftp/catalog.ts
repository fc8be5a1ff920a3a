import type SftpClient from 'ssh2-sftp-client';
import type { DestinationState, SourceFile } from '../../domain/ports';
import type { FolderListing } from '../folder-listing';
import type { SftpPathLocation } from './location';

/** A source file's metadata at request time (stat); undefined if there is no regular file there. */
export async function statFile(client: SftpClient, location: SftpPathLocation, path: string): Promise<SourceFile | undefined> {
  const name = path.split('/').pop() ?? path;
  if ((await client.exists(location.path)) !== '-') return undefined;
  const stats = await client.stat(location.path);
  return { path, name, size: stats.size, modifiedAt: stats.modifyTime };
}

/** The regular files directly in a folder (readdir), up to the listing's limit. */
export async function listFolder(client: SftpClient, folder: SftpPathLocation, listing: FolderListing): Promise<SourceFile[]> {
  for (const entry of await client.list(folder.path)) {
    if (entry.type === '-') listing.add(entry.name, entry.size, { modifiedAt: entry.modifyTime });
    if (listing.full) break;
  }
  return listing.files;
}

/** What a destination file holds, for verification (its size); undefined if there is nothing. */
export async function inspectFile(client: SftpClient, location: SftpPathLocation): Promise<DestinationState | undefined> {
  const exists = await client.exists(location.path);
  if (!exists) return undefined;
  return { bytes: (await client.stat(location.path)).size };
}
