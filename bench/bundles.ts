/**
 * The eft processes the bench runs are esbuild bundles, as in production:
 * the worker and the bench's small eft drivers are all built by the
 * project's own fargate-worker/build.mjs (what the container image runs), so
 * with the same options (node24, CommonJS, ssh2's native crypto binding built for this Node
 * and copied beside each bundle, as in the container). Running through tsx instead
 * would add ~1 s of transpiling and ~25 MB of RSS that production never pays.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..');

export interface Bundles {
  /** fargate-worker/main.ts, bundled by fargate-worker/build.mjs */
  worker: string;
  /** bench/eft-sftp-leg.ts */
  sftpLeg: string;
  /** bench/eft-s3-copy.ts */
  s3Copy: string;
  /** bench/delay-relay.ts (not eft: the latency run's relay where netem is missing) */
  delayRelay: string;
}

export async function buildBundles(outDir: string): Promise<Bundles> {
  const bundles: Bundles = {
    worker: join(outDir, 'worker', 'main.js'),
    sftpLeg: join(outDir, 'eft-sftp-leg.js'),
    s3Copy: join(outDir, 'eft-s3-copy.js'),
    delayRelay: join(outDir, 'delay-relay.js'),
  };
  // One set of esbuild options for every eft process: fargate-worker/build.mjs's.
  const bundle = (outfile: string, entry?: string) =>
    promisify(execFile)(
      process.execPath,
      [join(ROOT, 'fargate-worker', 'build.mjs'), outfile, ...(entry ? [join(__dirname, entry)] : [])],
      {
        cwd: ROOT,
      },
    );
  await Promise.all([
    bundle(bundles.worker),
    bundle(bundles.sftpLeg, 'eft-sftp-leg.ts'),
    bundle(bundles.s3Copy, 'eft-s3-copy.ts'),
    bundle(bundles.delayRelay, 'delay-relay.ts'),
  ]);
  return bundles;
}
