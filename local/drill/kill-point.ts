import { readdir, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { TransferJob } from '../../core/domain/job';
import { type DrillEngine, WEST } from './engine';
import type { Destination, FlowName, RoundTransfer } from './fixtures';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export async function readJobs(
  engine: DrillEngine,
  region: string,
  ids: string[],
): Promise<Map<string, TransferJob | undefined>> {
  const stores = engine.stores(region);
  const jobs = await Promise.all(ids.map((jobId) => stores.jobs.get({ customerId: 'customer-a', jobId })));
  return new Map(ids.map((id, i) => [id, jobs[i]]));
}

/**
 * Waits until the victim flow has moved `share` of its bytes (the job's checkpointed bytes, or the
 * `.tmp` growing at the partner, whichever is further; a batch: its share of files done), or has
 * gone past transferring. Returns where it was.
 */
export async function awaitKillPoint(
  engine: DrillEngine,
  jobs: Map<string, { flow: FlowName; transfer: RoundTransfer }>,
  victim: FlowName,
  transfers: RoundTransfer[],
  share: number,
): Promise<string> {
  const ids = [...jobs.entries()].filter(([, j]) => j.flow === victim).map(([id]) => id);
  const transfer = transfers.find((t) => t.flow === victim) as RoundTransfer;
  const total = transfer.destinations.reduce((sum, d) => sum + d.size, 0);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = await readJobs(engine, WEST, ids).catch(() => new Map<string, TransferJob | undefined>());
    const states = ids.map((id) => now.get(id));
    if (ids.length > 1) {
      const done = states.filter((job) => job && TERMINAL.has(job.status)).length;
      if (done / ids.length >= share || Date.now() > deadline) return `${done}/${ids.length} files done`;
    } else {
      const job = states[0];
      const tmp = await tmpBytes(transfer.destinations[0] as Destination);
      const moved = Math.max(job?.bytesTransferred ?? 0, tmp);
      if (job && job.status !== 'RUNNING' && job.status !== 'QUEUED' && job.status !== 'RECEIVED')
        return `${job.status} (${Math.round((100 * moved) / total)}% moved)`;
      if (moved / total >= share || Date.now() > deadline) return `${Math.round((100 * moved) / total)}% of bytes`;
    }
    await sleep(20);
  }
}

/** Bytes in the `.tmp` of an SFTP destination so far (0 for S3 or before it exists). */
async function tmpBytes(destination: Destination): Promise<number> {
  if (destination.kind !== 'sftp') return 0;
  const dir = dirname(destination.location);
  const names = await readdir(dir).catch(() => [] as string[]);
  const sizes = await Promise.all(
    names
      .filter((n) => n.startsWith(basename(destination.location)) && n.endsWith('.tmp'))
      .map((n) =>
        stat(`${dir}/${n}`).then(
          (s) => s.size,
          () => 0,
        ),
      ),
  );
  return Math.max(0, ...sizes);
}
