/**
 * The name under which a target that renames into place (SFTP) writes a file
 * before it is complete: next to the final name, per re-drive chain
 * (TransferJob.chainId, or the job's own id), so every attempt of every job of
 * the chain writes the same one and no two chains share one. The job view
 * names it too, so a customer can tell whose a leftover file is.
 */
import { createHash } from 'node:crypto';

export function temporaryPathFor(finalPath: string, chainId: string): string {
  return `${finalPath}.eft-${createHash('sha256').update(chainId).digest('hex').slice(0, 12)}.tmp`;
}
