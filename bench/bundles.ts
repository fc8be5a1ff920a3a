/**
 * The eft processes the bench runs are esbuild bundles, as in production:
 * the worker is built by the project's own fargate-worker/build.mjs (what the
 * container image runs), and the bench's small eft drivers with the same
 * options (node24, CommonJS, ssh2's optional native addons left out, so ssh2
 * uses Node's crypto exactly as in the container). Running through tsx instead
 * would add ~1 s of transpiling and ~25 MB of RSS that production never pays.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const ROOT = join(__dirname, '..');

export interface Bundles {
  /** fargate-worker/main.ts, bundled by fargate-worker/build.mjs */
  worker: string;
  /** bench/eft-sftp-leg.ts */
  sftpLeg: string;
  /** bench/eft-s3-copy.ts */
  s3Copy: string;
}

export async function buildBundles(outDir: string): Promise<Bundles> {
  const bundles: Bundles = {
    worker: join(outDir, 'worker', 'main.js'),
    sftpLeg: join(outDir, 'eft-sftp-leg.js'),
    s3Copy: join(outDir, 'eft-s3-copy.js'),
  };
  const benchEntry = (entry: string, outfile: string) =>
    build({
      entryPoints: [join(__dirname, entry)],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'cjs',
      sourcemap: true,
      minify: false,
      legalComments: 'none',
      external: ['cpu-features', '*.node'],
      logLevel: 'warning',
    });
  await Promise.all([
    promisify(execFile)(process.execPath, [join(ROOT, 'fargate-worker', 'build.mjs'), bundles.worker], { cwd: ROOT }),
    benchEntry('eft-sftp-leg.ts', bundles.sftpLeg),
    benchEntry('eft-s3-copy.ts', bundles.s3Copy),
  ]);
  return bundles;
}
