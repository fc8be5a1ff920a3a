// Loaded into each local worker (--require, local/step-functions.ts) so that it runs as the container's
// worker does: with ssh2's native crypto binding built for this Node (fargate-worker/sshcrypto.mjs keeps it
// in .native/; the container ships it beside the bundle). ssh2's own build/Release copy is built for the
// Node that ran npm install, another ABI, and fails to load; without the binding ssh2 encrypts every packet
// with a new createCipheriv (about 15 % of a small-files batch worker's CPU). Nothing built for this Node:
// ssh2 falls back to Node's crypto, as before.
const Module = require('node:module');
const { existsSync } = require('node:fs');
const { join, sep } = require('node:path');

const root = join(__dirname, '..');
let built;
try {
  const ssh2 = require(require.resolve('ssh2/package.json', { paths: [root] })).version;
  const abi = process.versions.modules;
  const candidate = join(
    root,
    '.native',
    `sshcrypto-ssh2-${ssh2}-${process.platform}-${process.arch}-abi${abi}`,
    'sshcrypto.node',
  );
  if (existsSync(candidate)) built = candidate;
} catch {
  // No ssh2 to find: nothing to redirect.
}
if (built) {
  const resolveFilename = Module._resolveFilename;
  const fromSsh2 = `${sep}node_modules${sep}ssh2${sep}`;
  Module._resolveFilename = function (request, parent, ...rest) {
    if (request.endsWith('crypto/build/Release/sshcrypto.node') && parent?.filename?.includes(fromSsh2)) return built;
    return resolveFilename.call(this, request, parent, ...rest);
  };
}
