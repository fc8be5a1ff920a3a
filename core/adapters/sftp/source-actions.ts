/**
 * A schedule's after-transfer actions on the partner's server (remove a pulled
 * file, or move it into an archive folder), many files over one session, each
 * idempotent: a file that is not there any more counts as done (ABSENT), so a
 * retry after a crash between the action and its record changes nothing.
 */
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import type { FileMove, SourceActionResult } from '../../domain/drivers';
import { isSftpLocation, type SftpPathLocation } from './location';
import { SFTP_STATUS, SftpChannel, sftpStatus } from './transfer/channel';

/** The raw channel of an ssh2-sftp-client session (for exact status codes). */
export function channelOf(client: unknown, where: string): SftpChannel {
  const sftp = (client as { sftp?: SFTPWrapper }).sftp;
  if (!sftp) throw new Error('the SFTP session has no channel');
  return new SftpChannel(sftp, where);
}

function pathOf(location: { uri: string; kind: string }): string {
  if (!isSftpLocation(location)) throw new Error(`the SFTP driver was handed a location it did not resolve: ${location.uri}`);
  return (location as SftpPathLocation).path;
}

function failed(err: unknown, what: string, where: string): SourceActionResult {
  const status = sftpStatus(err);
  if (status === SFTP_STATUS.PERMISSION_DENIED) {
    return { outcome: 'FAILED', code: 'PERMISSION_DENIED', message: `${where} denied ${what}` };
  }
  const detail = err instanceof Error && err.message ? `: ${err.message}` : '';
  return {
    outcome: 'FAILED',
    code: status === undefined ? 'CONNECTION_LOST' : 'SFTP_FAILURE',
    message: `${where} refused ${what}${detail}`,
  };
}

export async function removeFiles(
  channel: SftpChannel,
  files: readonly { uri: string; kind: string }[],
): Promise<SourceActionResult[]> {
  const results: SourceActionResult[] = [];
  for (const file of files) {
    const path = pathOf(file);
    try {
      if (!(await channel.statIfExists(path))) {
        results.push({ outcome: 'ABSENT' });
        continue;
      }
      await channel.unlink(path);
      results.push({ outcome: 'DONE' });
    } catch (err) {
      // Gone in between (another poll's attempt, the partner): done all the same.
      if (sftpStatus(err) === SFTP_STATUS.NO_SUCH_FILE) results.push({ outcome: 'ABSENT' });
      else results.push(failed(err, `removing ${path}`, channel.where));
    }
  }
  return results;
}

export async function moveFiles(
  channel: SftpChannel,
  moves: readonly FileMove[],
  options: { createDirectories: boolean },
): Promise<SourceActionResult[]> {
  const results: SourceActionResult[] = [];
  const foldersMade = new Set<string>();
  for (const move of moves) {
    const from = pathOf(move.from);
    const to = pathOf(move.to);
    try {
      if (!(await channel.statIfExists(from))) {
        results.push({ outcome: 'ABSENT' });
        continue;
      }
      const folder = posix.dirname(to);
      if (options.createDirectories && !foldersMade.has(folder)) {
        await makeFolders(channel, folder);
        foldersMade.add(folder);
      }
      let destination = to;
      if (await channel.statIfExists(to)) {
        const otherwise = move.otherwise ? pathOf(move.otherwise) : undefined;
        if (!otherwise || (await channel.statIfExists(otherwise))) {
          results.push({ outcome: 'FAILED', code: 'TARGET_EXISTS', message: `${to} already exists on ${channel.where}` });
          continue;
        }
        destination = otherwise;
      }
      await channel.rename(from, destination);
      results.push({ outcome: 'DONE', movedTo: destination });
    } catch (err) {
      if (sftpStatus(err) === SFTP_STATUS.NO_SUCH_FILE && !(await channel.statIfExists(from).catch(() => true))) {
        results.push({ outcome: 'ABSENT' });
      } else {
        results.push(failed(err, `moving ${from} to ${to}`, channel.where));
      }
    }
  }
  return results;
}

/** mkdir -p: each missing folder from the top down (one that appears meanwhile is fine). */
async function makeFolders(channel: SftpChannel, folder: string): Promise<void> {
  if (folder === '/' || folder === '.' || (await channel.statIfExists(folder))) return;
  await makeFolders(channel, posix.dirname(folder));
  try {
    await new Promise<void>((resolve, reject) => channel.sftp.mkdir(folder, (err) => (err ? reject(err) : resolve())));
  } catch (err) {
    if (!(await channel.statIfExists(folder))) throw err;
  }
}
