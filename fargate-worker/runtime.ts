/**
 * How Node runs the worker: the one definition of its flags and environment,
 * for everything that starts it (the local runtime's ECS stand-in, the bench,
 * the tests). fargate-worker/Dockerfile cannot import it and spells the same
 * values out; tests/unit/worker-runtime.test.ts fails when the two differ.
 */

/**
 * --enable-source-maps: stack traces point at the sources.
 * --max-semi-space-size=16 (MiB): a larger young generation, so the
 * short-lived objects of a transfer (tens of thousands of SSH packets and
 * SFTP replies per GiB, the SDK's per-part work) die young instead of being
 * promoted to the old generation. Measured on SFTP→S3: the heap stays at
 * ~57 MiB and the RSS flat at ~264 MiB, instead of creeping with the transfer.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--enable-source-maps', '--max-semi-space-size=16'];

/**
 * MALLOC_MMAP_THRESHOLD_: buffers of 128 KiB and more (SFTP requests, S3
 * parts) are mmap'ed and go back to the OS when freed; glibc's default raises
 * the threshold after the first free and then keeps freed buffers in its heap,
 * so the footprint of a long transfer creeps up.
 */
export const WORKER_ENV: Readonly<Record<string, string>> = { NODE_ENV: 'production', MALLOC_MMAP_THRESHOLD_: '131072' };
