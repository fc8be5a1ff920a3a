/**
 * How Node runs the worker: the one definition of its flags and environment,
 * for everything that starts it (the local runtime's ECS stand-in, the bench,
 * the tests). fargate-worker/Dockerfile cannot import it and spells the same
 * values out; tests/unit/worker-runtime.test.ts fails when the two differ.
 */

/**
 * --enable-source-maps: stack traces point at the sources.
 * --max-semi-space-size=8 (MiB): a fixed young generation, so V8 does not
 * grow it in steps during a transfer (tens of thousands of short-lived SSH
 * packets and SFTP replies per GiB), which is what made the RSS creep; 8 MiB
 * keeps the peak under the 300 MiB budget where 16 did not (docs/benchmarks.md,
 * "Tuning choices").
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--enable-source-maps', '--max-semi-space-size=8'];

/**
 * MALLOC_MMAP_THRESHOLD_: buffers of 128 KiB and more (SFTP requests, S3
 * parts) are mmap'ed and go back to the OS when freed; glibc's default raises
 * the threshold after the first free and then keeps freed buffers in its heap,
 * so the footprint of a long transfer creeps up.
 */
export const WORKER_ENV: Readonly<Record<string, string>> = { NODE_ENV: 'production', MALLOC_MMAP_THRESHOLD_: '131072' };
