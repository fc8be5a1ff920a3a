// Bundles the worker into one CommonJS file for the container image:
//   node fargate-worker/build.mjs [outfile] [entry]
//   (defaults fargate-worker/dist/main.js and fargate-worker/main.ts; the bench
//   bundles its own eft drivers with the same options by naming another entry)
// Same choices as the Lambda bundling (serverless.yml custom.esbuild): node24,
// the AWS SDK bundled (pins the tested versions), and ssh2's OPTIONAL native
// addons left out: cpu-features and its sshcrypto.node are required inside
// try/catch, and ssh2 falls back to Node's crypto without them (esbuild cannot
// bundle .node files, and ones built on a developer machine would not match
// the task's architecture anyway).

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outfile = process.argv[2] ?? join(here, 'dist', 'main.js');
const entry = process.argv[3] ?? join(here, 'main.ts');

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
  logLevel: 'warning',
});
