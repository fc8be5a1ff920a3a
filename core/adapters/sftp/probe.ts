/**
 * Endpoint validation (spec FR-5): can the engine reach the endpoint with its
 * configuration, and what does the partner's server allow? The outcome is
 * data, never an exception, and its messages tell a person what to fix without
 * quoting secret material.
 *
 * The SFTP probe writes and renames uniquely named probe files
 * (".eft-probe-<random>-<n>") in the base path and always removes them; it
 * never touches any other file.
 */
import { randomBytes } from 'node:crypto';
import * as posix from 'node:path/posix';
import {
  DeleteObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { OpenMode, SFTPWrapper, Stats } from 'ssh2';
import { bucketOf } from '../s3/bucket-owner';
import { type OpenSftpOptions, openSftp, type SftpSession, type SftpTarget, scrubSecrets } from './connect';
import { ConnectivityError, HostKeyMismatchError, HostKeyUnconfirmedError } from '../../domain/connectivity-errors';
import type { ProbeOutcome as RecordedOutcome, SftpCapabilities, ValidationReason } from '../../domain/endpoint';

export { VALIDATION_REASONS, type ValidationReason } from '../../domain/endpoint';

/** The domain's outcome (recorded on the endpoint), plus warnings a person should see although validation passed. */
export type ProbeOutcome = RecordedOutcome | { ok: true; capabilities?: SftpCapabilities; warnings?: string[] };

const PROBE_CONTENT = Buffer.from('eft connectivity probe: safe to delete\n');
const PROBE_PREFIX = '.eft-probe-';

function probeToken(): string {
  return randomBytes(8).toString('hex');
}

// ---------------------------------------------------------------------------
// SFTP

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

function fail(reason: ValidationReason, message: string, offeredHostKeyFingerprint?: string): ProbeOutcome {
  return { ok: false, reason, message, ...(offeredHostKeyFingerprint ? { offeredHostKeyFingerprint } : {}) };
}

function connectFailure(err: unknown, target: SftpTarget): ProbeOutcome {
  if (err instanceof ConnectivityError) {
    const offered =
      err instanceof HostKeyMismatchError || err instanceof HostKeyUnconfirmedError ? err.offeredFingerprint : undefined;
    const reason: ValidationReason = err.code === 'CONNECTION_FAILED' ? 'UNKNOWN' : err.code;
    return fail(reason, scrubSecrets(err.message, target.credentials), offered);
  }
  return unexpected(err, target, `could not connect to ${target.host}:${target.port}`);
}

function unexpected(err: unknown, target: SftpTarget, what: string): ProbeOutcome {
  const detail = err instanceof Error && err.message ? `: ${scrubSecrets(err.message, target.credentials)}` : '';
  return fail('UNKNOWN', `${what}${detail}`);
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
    if (status === NO_SUCH_FILE) return fail('PATH_MISSING', `base path ${basePath} does not exist for ${who}`);
    if (status === PERMISSION_DENIED) return fail('PERMISSION_DENIED', `${who} may not ${verb} base path ${basePath}`);
    return unexpected(err, target, `could not ${verb} base path ${basePath} for ${who}`);
  };
  let stats: Stats;
  try {
    stats = await ops.stat(basePath);
  } catch (err) {
    return refused(err, 'access');
  }
  if (!stats.isDirectory()) return fail('PATH_MISSING', `base path ${basePath} is not a directory for ${who}`);
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
export async function probeSftp(target: SftpTarget, basePath: string, options: OpenSftpOptions = {}): Promise<ProbeOutcome> {
  let session: SftpSession;
  try {
    session = await openSftp(target, options);
  } catch (err) {
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

// ---------------------------------------------------------------------------
// S3

export interface S3ProbeLocation {
  bucket: string;
  prefix: string;
  /** The account that must own the bucket (ExpectedBucketOwner on every request). */
  bucketOwner?: string;
  /** When the endpoint writes with SSE-KMS, the probe object is written the same way (bucket policies often demand it). */
  kmsKeyId?: string;
}

interface S3ErrorShape {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

function s3Status(err: unknown): { name: string; status: number | undefined; message: string } {
  const e = (err ?? {}) as S3ErrorShape;
  return { name: e.name ?? 'Error', status: e.$metadata?.httpStatusCode, message: e.message ?? '' };
}

const isMissingBucket = (s: ReturnType<typeof s3Status>) =>
  s.name === 'NoSuchBucket' || (s.name === 'NotFound' && s.status === 404);
const isDenied = (s: ReturnType<typeof s3Status>) =>
  s.status === 403 || s.name === 'AccessDenied' || s.name === 'Forbidden' || s.name.startsWith('KMS.');

function s3Failure(err: unknown, bucket: string, what: string): ProbeOutcome {
  const s = s3Status(err);
  if (isMissingBucket(s)) return fail('BUCKET_MISSING', `bucket '${bucket}' does not exist`);
  if (isDenied(s)) {
    const kms = s.name.startsWith('KMS.') ? ' (the KMS key refused the request: check its key policy)' : '';
    return fail('ACCESS_DENIED', `the engine may not ${what}${kms}: check the bucket policy and the engine's IAM role`);
  }
  if (s.status === 301 || s.name === 'PermanentRedirect' || s.name === 'AuthorizationHeaderMalformed') {
    return fail('UNKNOWN', `bucket '${bucket}' is in another region than the endpoint says`);
  }
  const detail = s.message ? `${s.name}: ${s.message}` : s.name;
  return fail('UNKNOWN', `could not ${what}: ${detail}`);
}

/**
 * Validates an S3 endpoint: the bucket exists and is reachable (HeadBucket),
 * the prefix can be listed, and a probe object can be written and deleted
 * under it. Unlike SFTP, a refused write is ACCESS_DENIED: S3 access is the
 * engine's own IAM role and bucket policy, which the endpoint owner sets up
 * for reading and writing as documented.
 */
export async function probeS3(s3: S3Client, location: S3ProbeLocation): Promise<ProbeOutcome> {
  const { bucket, prefix, bucketOwner: owner } = location;
  if (!owner) {
    return fail(
      'BUCKET_OWNER_UNKNOWN',
      'the endpoint names no bucket owner: set s3.bucketOwner to the account that owns the bucket',
    );
  }
  const where = `s3://${bucket}/${prefix}`;
  try {
    await s3.send(new HeadBucketCommand(bucketOf({ bucket, owner })));
  } catch (err) {
    // S3 answers a bucket of another owner with the 403 of a missing grant (it tells the two apart to no one).
    if (isDenied(s3Status(err))) {
      return fail(
        'BUCKET_NOT_OWNED',
        `S3 refused bucket '${bucket}' for owner ${owner}: either account ${owner} does not own it, or its bucket policy does not grant eft (README, "Bucket ownership")`,
      );
    }
    return s3Failure(err, bucket, `access bucket '${bucket}'`);
  }
  try {
    await s3.send(new ListObjectsV2Command({ ...bucketOf({ bucket, owner }), Prefix: prefix, MaxKeys: 1 }));
  } catch (err) {
    return s3Failure(err, bucket, `list objects under ${where}`);
  }
  const separator = prefix === '' || prefix.endsWith('/') ? '' : '/';
  const key = `${prefix}${separator}${PROBE_PREFIX}${probeToken()}`;
  const put: PutObjectCommandInput = { ...bucketOf({ bucket, owner }), Key: key, Body: PROBE_CONTENT, ContentType: 'text/plain' };
  if (location.kmsKeyId) Object.assign(put, { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: location.kmsKeyId });
  try {
    await s3.send(new PutObjectCommand(put));
  } catch (err) {
    return s3Failure(err, bucket, `write objects under ${where}`);
  }
  try {
    await s3.send(new DeleteObjectCommand({ ...bucketOf({ bucket, owner }), Key: key }));
  } catch (err) {
    const outcome = s3Failure(
      err,
      bucket,
      `delete objects under ${where} (the probe object s3://${bucket}/${key} was left behind)`,
    );
    return outcome;
  }
  return { ok: true };
}
