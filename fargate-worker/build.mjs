// Bundles the worker into one CommonJS file for the container image:
//   node fargate-worker/build.mjs [outfile] [entry]
//   (defaults fargate-worker/dist/main.js and fargate-worker/main.ts; the bench
//   bundles its own eft drivers with the same options by naming another entry)
// Same choices as the Lambda bundling (serverless.yml custom.esbuild): node24,
// the AWS SDK bundled (pins the tested versions). ssh2's OPTIONAL native addons
// (esbuild cannot bundle .node files; ssh2 requires both inside try/catch and
// falls back to Node's crypto without them):
// - its crypto binding sshcrypto.node is built for the Node that runs this
//   script (fargate-worker/sshcrypto.mjs; the container builds with its
//   runtime image, so the ABI and architecture match) and copied beside the
//   bundle, where ssh2's require of it is pointed. Without a compiler it is
//   left out, with a warning, and ssh2 uses the pure-JS path (~25 % more CPU);
// - cpu-features (only a cipher-preference hint) stays out.

import { copyFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildSshcrypto } from './sshcrypto.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const outfile = process.argv[2] ?? join(here, 'dist', 'main.js');
const entry = process.argv[3] ?? join(here, 'main.ts');

/** ssh2's require('./crypto/build/Release/sshcrypto.node') → the copy beside the bundle. */
const sshcryptoBesideBundle = {
  name: 'sshcrypto-beside-bundle',
  setup(b) {
    b.onResolve({ filter: /[\\/]sshcrypto\.node$/ }, () => ({ path: './sshcrypto.node', external: true }));
  },
};

await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  // Stack traces point at the sources (node --enable-source-maps).
  sourcemap: true,
  minify: false,
  legalComments: 'none',
  external: ['cpu-features', '*.node'],
  plugins: [sshcryptoBesideBundle],
  logLevel: 'warning',
});

const addon = join(dirname(outfile), 'sshcrypto.node');
try {
  // The tests bundle without it (EFT_WORKER_NATIVE_CRYPTO=off): building it first fetches ~50 MB of
  // Node headers and compiles, which a fresh CI machine would pay inside a test's setup.
  if (process.env.EFT_WORKER_NATIVE_CRYPTO === 'off') throw new Error('EFT_WORKER_NATIVE_CRYPTO=off');
  copyFileSync(buildSshcrypto(), addon);
} catch (error) {
  rmSync(addon, { force: true });
  const reason = String(error?.stderr || error?.message || error)
    .trim()
    .split('\n')
    .slice(-3)
    .join(' ');
  process.stderr.write(`build.mjs: ssh2's native crypto binding left out (ssh2 falls back to Node's crypto): ${reason}\n`);
}
