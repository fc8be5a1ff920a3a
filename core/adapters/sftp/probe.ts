/**
 * SFTP endpoint validation (spec FR-5): can the engine reach the server with
 * the endpoint's configuration, and what does the partner's server allow? The
 * outcome is data, never an exception (../probing.ts).
 *
 * The probe writes and renames uniquely named probe files
 * (".eft-probe-<random>-<n>") in the base path and always removes them; it
 * never touches any other file.
 */
import * as posix from 'node:path/posix';
import type { OpenMode, SFTPWrapper, Stats } from 'ssh2';
import { ConnectivityError, HostKeyMismatchError, HostKeyUnconfirmedError } from '../../domain/connectivity-errors';
import type { ProbeOutcome, SftpCapabilities, ValidationReason } from '../../domain/endpoint';
import { PartnerBusyError } from '../../domain/session-slots';
import { failed, PROBE_CONTENT, PROBE_PREFIX, probeToken } from '../probing';
import { type OpenSftpOptions, openSftp, type SftpSession, type SftpTarget, scrubSecrets } from './connect';

/** SFTP v3 status codes, as ssh2 reports them in `err.code`. */
const SFTP_EOF = 1;
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;

/** An error the server answered with (a status code), as opposed to a lost connection. */
function sftpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

function call<T = void>(fn: (cb: (err: Error | undefined | null, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

const sftpOps = (sftp: SFTPWrapper) => ({
  stat: (p: string) => call<Stats>((cb) => sftp.stat(p, cb)),
  /** Opens the directory and reads one batch: proves it is listable without listing a huge directory in full. */
  listOnce: async (p: string) => {
    const handle = await call<Buffer>((cb) => sftp.opendir(p, cb));
    try {
      await call((cb) => sftp.readdir(handle, (err) => cb(err && sftpStatus(err) !== SFTP_EOF ? err : undefined)));
    } finally {
      await call((cb) => sftp.close(handle, (err) => cb(err))).catch(() => undefined);
    }
  },
  writeFile: (p: string, data: Buffer) => call((cb) => sftp.writeFile(p, data, (err) => cb(err))),
  readFile: (p: string) => call<Buffer>((cb) => sftp.readFile(p, cb)),
  /** Writes `halves` through two handles at once (the second opened on the file the first created), each at its offset. */
  writeWithTwoHandles: async (p: string, halves: [Buffer, Buffer]) => {
    const open = (flags: OpenMode) => call<Buffer>((cb) => sftp.open(p, flags, cb));
    const first = await open('w');
    try {
      const second = await open('r+');
      try {
        await Promise.all([
          call((cb) => sftp.write(first, halves[0], 0, halves[0].length, 0, (err) => cb(err))),
          call((cb) => sftp.write(second, halves[1], 0, halves[1].length, halves[0].length, (err) => cb(err))),
        ]);
      } finally {
        await call((cb) => sftp.close(second, (err) => cb(err)));
      }
    } finally {
      await call((cb) => sftp.close(first, (err) => cb(err)));
    }
  },
  rename: (from: string, to: string) => call((cb) => sftp.rename(from, to, (err) => cb(err))),
  posixRename: (from: string, to: string) => call((cb) => sftp.ext_openssh_rename(from, to, (err) => cb(err))),
  unlink: (p: string) => call((cb) => sftp.unlink(p, (err) => cb(err))),
  lstat: (p: string) => call<Stats>((cb) => sftp.lstat(p, cb)),
});

/** True if the operation succeeded, false if the server refused it; a lost connection propagates. */
async function allowed(operation: () => Promise<unknown>): Promise<boolean> {
  try {
    await operation();
    return true;
  } catch (err) {
    if (sftpStatus(err) !== undefined) return false;
    throw err;
  }
}

function connectFailure(err: unknown, target: SftpTarget): ProbeOutcome {
  if (err instanceof ConnectivityError) {
    const offered =
      err instanceof HostKeyMismatchError || err instanceof HostKeyUnconfirmedError ? err.offeredFingerprint : undefined;
    const reason: ValidationReason = err.code === 'CONNECTION_FAILED' ? 'UNKNOWN' : err.code;
    return failed(reason, scrubSecrets(err.message, target.credentials), offered);
  }
  return unexpected(err, target, `could not connect to ${target.host}:${target.port}`);
}

function unexpected(err: unknown, target: SftpTarget, what: string): ProbeOutcome {
  const detail = err instanceof Error && err.message ? `: ${scrubSecrets(err.message, target.credentials)}` : '';
  return failed('UNKNOWN', `${what}${detail}`);
}

/** Checks that the base path is a listable directory; a failure outcome, or undefined when it is. */
async function checkBasePath(
  ops: ReturnType<typeof sftpOps>,
  basePath: string,
  target: SftpTarget,
): Promise<ProbeOutcome | undefined> {
  const who = `user '${target.username}' at ${target.host}:${target.port}`;
  const refused = (err: unknown, verb: string): ProbeOutcome => {
    const status = sftpStatus(err);
    if (status === NO_SUCH_FILE) return failed('PATH_MISSING', `base path ${basePath} does not exist for ${who}`);
    if (status === PERMISSION_DENIED) return failed('PERMISSION_DENIED', `${who} may not ${verb} base path ${basePath}`);
    return unexpected(err, target, `could not ${verb} base path ${basePath} for ${who}`);
  };
  let stats: Stats;
  try {
    stats = await ops.stat(basePath);
  } catch (err) {
    return refused(err, 'access');
  }
  if (!stats.isDirectory()) return failed('PATH_MISSING', `base path ${basePath} is not a directory for ${who}`);
  try {
    await ops.listOnce(basePath);
  } catch (err) {
    return refused(err, 'list');
  }
  return undefined;
}

const CHECK_FILE_EXTENSIONS = ['check-file', 'check-file-name', 'check-file-handle'];

/**
 * What the partner allows in the base path, found by trying it with probe files:
 * write; RENAME to a new name; plain RENAME onto an existing name (SFTP v3
 * says this fails, some servers replace the target); posix-rename@openssh.com
 * (advertised and working); check-file (advertised; nothing to try without a
 * real file); two handles writing one file at their offsets, read back. The
 * probe files are removed whatever happens.
 */
async function probeCapabilities(session: SftpSession, basePath: string, warnings: string[]): Promise<SftpCapabilities> {
  const ops = sftpOps(session.sftp);
  const ext = session.supportedExtensions;
  const capabilities: SftpCapabilities = {
    write: false,
    renameToNew: false,
    renameOverExisting: false,
    posixRename: false,
    checkFile: CHECK_FILE_EXTENSIONS.some((name) => name in ext),
    multiHandleWrite: false,
    negotiated: session.negotiated,
  };
  const token = probeToken();
  const [first, renamed, second, third, halves] = ['1', '2', '3', '4', '5'].map((n) =>
    posix.join(basePath, `${PROBE_PREFIX}${token}-${n}`),
  ) as [string, string, string, string, string];
  // Every name an operation was attempted on, whatever came of it: a refused
  // write may still have created the file, a refused rename may have moved it.
  const touched = new Set<string>();
  const write = (name: string) => {
    touched.add(name);
    return allowed(() => ops.writeFile(name, PROBE_CONTENT));
  };
  const rename = (from: string, to: string, posixRename = false) => {
    touched.add(to);
    return allowed(() => (posixRename ? ops.posixRename(from, to) : ops.rename(from, to)));
  };
  try {
    capabilities.write = await write(first);
    if (!capabilities.write) return capabilities;
    let existing = first;
    if (await rename(first, renamed)) {
      capabilities.renameToNew = true;
      existing = renamed;
    }
    if (await write(second)) capabilities.renameOverExisting = await rename(second, existing);
    if ('posix-rename@openssh.com' in ext && (await write(third))) {
      capabilities.posixRename = await rename(third, existing, true);
    }
    touched.add(halves);
    const [head, tail] = [PROBE_CONTENT.subarray(0, 8), PROBE_CONTENT.subarray(8)];
    capabilities.multiHandleWrite =
      (await allowed(() => ops.writeWithTwoHandles(halves, [head, tail]))) &&
      (await ops.readFile(halves).then(
        (got) => got.equals(PROBE_CONTENT),
        () => false,
      ));
    return capabilities;
  } finally {
    for (const name of touched) {
      const removed = await allowed(() => ops.unlink(name));
      // A refused REMOVE of a name that does not exist (e.g. on a read-only server) leaves nothing behind.
      if (!removed && (await allowed(() => ops.lstat(name)))) {
        warnings.push(`probe file ${name} could not be removed; please delete it`);
      }
    }
  }
}

/**
 * Validates an SFTP endpoint: connects (SSRF guard, pinned host key,
 * credentials), checks that the base path is a listable directory, and
 * records what the server allows there.
 *
 * A server that refuses the probe write is still ok (capabilities.write =
 * false): an INBOUND endpoint (a source the engine only reads from) may
 * legitimately be read-only. Whether that is acceptable depends on the
 * endpoint's direction, so the caller decides, not the probe.
 */
export interface ProbeOptions extends OpenSftpOptions {
  /** How the session is opened: the driver's gate (a session slot of the endpoint, then openSftp). Default openSftp. */
  open?: (target: SftpTarget) => Promise<SftpSession>;
}

/**
 * A partner whose sessions are all in use (PartnerBusyError) is not a failed
 * validation: it is thrown, and the API answers 503 PARTNER_BUSY.
 */
export async function probeSftp(target: SftpTarget, basePath: string, options: ProbeOptions = {}): Promise<ProbeOutcome> {
  let session: SftpSession;
  try {
    session = await (options.open ?? ((t: SftpTarget) => openSftp(t, options)))(target);
  } catch (err) {
    if (err instanceof PartnerBusyError) throw err;
    return connectFailure(err, target);
  }
  try {
    const ops = sftpOps(session.sftp);
    const pathProblem = await checkBasePath(ops, basePath, target);
    if (pathProblem) return pathProblem;
    const warnings: string[] = [];
    const capabilities = await probeCapabilities(session, basePath, warnings);
    return { ok: true, capabilities, ...(warnings.length > 0 ? { warnings } : {}) };
  } catch (err) {
    return unexpected(
      err,
      target,
      `the connection to ${target.host}:${target.port} failed while probing ${basePath} (files named ${PROBE_PREFIX}* may remain there)`,
    );
  } finally {
    await session.close();
  }
}
