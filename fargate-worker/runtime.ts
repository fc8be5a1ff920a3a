/**
 * How Node runs the worker: the one definition of its flags and environment,
 * for everything that starts it (the local runtime's ECS stand-in, the bench,
 * the tests). fargate-worker/Dockerfile cannot import it and spells the same
 * values out; tests/unit/worker-runtime.test.ts fails when the two differ.
 *
 * One setting for every leg (SFTP → S3, S3 → SFTP, the SFTP legs, batches):
 * measured per leg, the same flags held each flat, so nothing is chosen per
 * flow (docs/benchmarks.md, "Tuning choices").
 */

/**
 * --enable-source-maps: stack traces point at the sources.
 * --max-semi-space-size=8 (MiB): a fixed young generation, so V8 does not
 * grow it in steps during a transfer (tens of thousands of short-lived SSH
 * packets and SFTP replies per GiB).
 * --no-incremental-marking --single-threaded-gc: the worker's garbage is
 * buffers (SSH packets, SFTP replies, socket chunks: about three bytes for
 * every byte moved) whose memory lives outside the JS heap. V8 collects them
 * in full collections started by that external memory's growth (one every
 * 50–100 ms during a transfer; young-generation collections hardly run). With
 * incremental, concurrent marking a collection runs over many milliseconds
 * while the transfer keeps allocating, on helper threads that compete with
 * the transfer for the CPUs, so how much garbage piles up before it is freed
 * varied from one collection to the next: the RSS rose in steps during a
 * transfer (±10–23 % between 10 % and 90 % of 1 GiB). An atomic collection on
 * the main thread frees the garbage at the same point each time: ±0.3–2 %
 * in most runs, with less CPU per GB, not more (the live heap it marks is
 * 15–40 MiB; the pauses of a batch of small files, with a larger heap, were
 * not measured).
 * --single-threaded (which includes --single-threaded-gc): no V8 background
 * tasks at all, so JIT compilation runs on the main thread too. Node can
 * deadlock at exit while a background compile job waits for a collection
 * only the main thread can make, and the main thread, exiting, waits for that
 * job (nodejs/node#54918, open): a worker hung that way after recording its
 * job, its process never ending (a Fargate task left running). Measured: the
 * same MB/s and CPU per GB (docs/benchmarks.md, "Tuning choices").
 */
export const WORKER_NODE_FLAGS: readonly string[] = [
  '--enable-source-maps',
  '--max-semi-space-size=8',
  '--no-incremental-marking',
  '--single-threaded',
];

/**
 * glibc's allocator, for buffers that come and go by the thousand per second:
 * MALLOC_MMAP_THRESHOLD_=4 MiB: buffers below it (SFTP requests and replies
 * of 255 KiB, socket chunks, SSH packets) come from the heap and are reused
 * after each collection instead of being mapped, faulted in and unmapped one
 * by one (which cost CPU, and made the RSS follow every collection). Setting
 * it also stops glibc from raising it by itself, so the 16 MiB S3 part
 * buffers (pooled by the upload) stay mapped on their own.
 * MALLOC_TRIM_THRESHOLD_=64 MiB: the heap's free top is not handed back and
 * faulted in again after each collection.
 * MALLOC_ARENA_MAX=2: threads that allocate (libuv's pool) share one more
 * arena at most, rather than each keeping its own free memory.
 * Together the RSS levels at the high-water mark of the live buffers plus one
 * collection's garbage, reached before 10 % of a transfer.
 */
export const WORKER_ENV: Readonly<Record<string, string>> = {
  NODE_ENV: 'production',
  MALLOC_MMAP_THRESHOLD_: '4194304',
  MALLOC_TRIM_THRESHOLD_: '67108864',
  MALLOC_ARENA_MAX: '2',
};
