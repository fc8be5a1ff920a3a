/**
 * The staged copy of an SFTP→SFTP job, across regions. The first hop records
 * the copy it made in its region's staging area; a retry, a takeover or a
 * re-drive may run in either region and reads the copy in its own: the
 * recorded one, or the replica that replication brings (resources/buckets.yml:
 * within 15 minutes, S3 RTC). So a job staged in a region that then died is
 * delivered by the other from the replica, without the source.
 *
 * - Recorded here and gone (expired, removed): the first hop runs again, as a
 *   retry always did.
 * - Recorded in the other region, replica not here yet: wait, until the
 *   replication bound after the copy was made (config.stagedReplicaWaitMs).
 *   Past it, the copy most likely never left that region (it died first):
 *   the job fails with STAGED_COPY_UNAVAILABLE instead of reading the source
 *   again behind the customer's back. A re-drive (the customer's decision)
 *   that still finds no replica reads the source again.
 */
import type { Clock } from '../domain/clock';
import type { TransferJob } from '../domain/job';
import { TransferError } from '../domain/transfer/errors';
import type { FileTarget, StagedFile, StagingArea, TransferIo } from '../domain/transfer/io';
import { sleep } from '../domain/transfer/retry';
import type { WorkerConfig } from '../domain/transfer/tunables';

export interface StagedCopyDeps {
  staging: StagingArea;
  clock: Clock;
  config: Pick<WorkerConfig, 'stagedReplicaWaitMs' | 'retryBaseMs' | 'retryMaxMs'>;
  region: string;
}

/** The staged copy the second hop can read in this region, or undefined when the first hop must run (again). */
export async function stagedCopyToReuse(
  deps: StagedCopyDeps,
  io: TransferIo,
  job: TransferJob,
  staged: StagedFile,
): Promise<StagedFile | undefined> {
  const { logger } = io;
  const madeAt = staged.stagedAt ? Date.parse(staged.stagedAt) : Number.NaN;
  // A record from before stagedAt existed: the bound counts from now.
  const deadline = (Number.isNaN(madeAt) ? deps.clock.now() : madeAt) + deps.config.stagedReplicaWaitMs;
  let pause = deps.config.retryBaseMs;
  let waiting = false;
  for (;;) {
    const found = await deps.staging.find(staged, io.signal);
    if (found.status === 'present') {
      logger.info(
        found.replica
          ? 'reusing the replica of the staged copy made in the other region; the source is not read again'
          : 'reusing the staged copy; the source is not read again',
        { key: found.copy.key, bytes: found.copy.bytes, ...(found.replica ? { stagedIn: staged.bucket } : {}) },
      );
      return found.copy;
    }
    if (found.status === 'lost') return undefined;
    const left = deadline - deps.clock.now();
    if (left <= 0) {
      if (job.redriveOf) {
        logger.warn('the staged copy made in the other region never reached this one; this re-drive reads the source again', {
          key: staged.key,
          stagedIn: staged.bucket,
        });
        return undefined;
      }
      throw new TransferError(
        'STAGED_COPY_UNAVAILABLE',
        `the staged copy s3://${staged.bucket}/${staged.key} (made ${staged.stagedAt ?? 'before this attempt'}) has not replicated to ${deps.region} within ${Math.round(deps.config.stagedReplicaWaitMs / 1000)} s: re-drive the job`,
      );
    }
    if (!waiting) {
      waiting = true;
      logger.info('waiting for the staged copy made in the other region to replicate here', {
        key: staged.key,
        stagedIn: staged.bucket,
        waitMs: left,
      });
    }
    await sleep(Math.min(pause, left), io.signal);
    pause = Math.min(pause * 2, deps.config.retryMaxMs);
  }
}

/**
 * The second hop's target, committing only the staged content: its SHA-256 is
 * checked as the bytes stream through, before the target makes anything
 * visible, so a copy that is not what the first hop staged (a replica of
 * another version, a changed object) is never delivered.
 */
export function committingOnly(target: FileTarget, sha256: string): FileTarget {
  return new Proxy(target, {
    get(inner, property) {
      if (property === 'commit') {
        return (streamed: string) => {
          if (streamed !== sha256) {
            return Promise.reject(
              new TransferError(
                'CONTENT_MISMATCH',
                `the staged copy read for ${inner.location} is not what the first hop staged`,
              ),
            );
          }
          return inner.commit(streamed);
        };
      }
      const value = Reflect.get(inner, property, inner);
      return typeof value === 'function' ? value.bind(inner) : value;
    },
  });
}
