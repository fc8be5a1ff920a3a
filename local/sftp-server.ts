/**
 * An embedded SFTP server that stands in for a partner's server in the local
 * runtime and in tests: pure npm (ssh2 for SSH transport and authentication),
 * no Docker, no root. Each user is jailed to `root` on the local disk.
 *
 * ssh2's Server handles key exchange, encryption and authentication; the SFTP
 * protocol itself (sftp-wire.ts) and its file-system backend live here.
 * Requests on a channel are processed one at a time, in arrival order, like
 * OpenSSH's sftp-server: clients pipeline dozens of reads/writes, and handling
 * them in order keeps CLOSE after WRITE (and similar) trivially correct.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { type AuthContext, type Connection, type ParsedKey, Server, type ServerChannel, utils } from 'ssh2';
import {
  type Attrs,
  BadMessage,
  encode,
  MAX_READ_LENGTH,
  type NameEntry,
  OPEN_FLAGS,
  PACKET,
  PacketFramer,
  PacketReader,
  STATUS,
  type StatusCode,
} from './sftp-wire';

export interface SftpUser {
  username: string;
  password?: string;
  /** An OpenSSH public key line, e.g. "ssh-ed25519 AAAA… comment". */
  publicKey?: string;
}

export interface SftpServerOptions {
  /** Directory that every user sees as "/"; nothing outside it is reachable. */
  root: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port, reported back in `port`. */
  port?: number;
  users: SftpUser[];
  /** Private host key (PEM or OpenSSH format). Default: a fresh ECDSA (nistp256) key, which FIPS-2024 accepts. */
  hostKey?: string | Buffer;
  /** Refuse RENAME and posix-rename with PERMISSION_DENIED, like partners that forbid renames. */
  forbidRename?: boolean;
  /** Advertise and honour posix-rename@openssh.com (rename over an existing file). Default true. */
  posixRename?: boolean;
  /** Let plain RENAME replace an existing target, as some non-OpenSSH servers do. Default false (SFTP v3: fail). */
  renameOverwrites?: boolean;
  /** Refuse every operation that would change the file system with PERMISSION_DENIED. */
  readOnly?: boolean;
  /** Refuse to open a file for writing while another handle has it open for writing (Windows file sharing). */
  oneWriterPerFile?: boolean;
  /** Receives ssh2's and this server's debug messages. */
  debug?: (message: string) => void;
}

export interface EmbeddedSftpServer {
  host: string;
  port: number;
  /** "SHA256:<base64 without padding>", exactly as OpenSSH prints it. */
  hostKeyFingerprint: string;
  close(): Promise<void>;
}

/** OpenSSH-style fingerprint of a public key in SSH wire format (what ssh2's hostVerifier receives). */
export function sshKeyFingerprint(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * An ed25519 key pair in OpenSSH format ({ private, public } as ssh2 returns it).
 * ssh2 1.17's generateKeyPairSync('ed25519') strips *all* leading zero bytes
 * of the public key (not just the BIT STRING padding byte), so about one key in
 * 256 comes out 31 bytes long and ssh2's own parseKey rejects it. Retry until
 * the pair parses.
 */
export function generateEd25519KeyPair(): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.public) instanceof Error) && !(utils.parseKey(pair.private) instanceof Error)) return pair;
  }
}

/**
 * A host key every SSH security policy accepts (ECDSA nistp256): FIPS-2024,
 * the engine's default, refuses ed25519 host keys.
 */
export function generateHostKey(): string {
  return utils.generateKeyPairSync('ecdsa', { bits: 256 }).private;
}

type Policy = Required<
  Pick<SftpServerOptions, 'forbidRename' | 'posixRename' | 'renameOverwrites' | 'readOnly' | 'oneWriterPerFile'>
> & {
  /** Files open for writing, server-wide (oneWriterPerFile). */
  writing: Set<string>;
};

export async function startSftpServer(options: SftpServerOptions): Promise<EmbeddedSftpServer> {
  const host = options.host ?? '127.0.0.1';
  const hostKey = options.hostKey ?? generateHostKey();
  const hostKeyFingerprint = sshKeyFingerprint(parseSingleKey(hostKey, 'hostKey').getPublicSSH());
  const jail = new Jail(await fs.realpath(options.root));
  const authenticate = makeAuthenticator(options.users);
  const policy: Policy = {
    forbidRename: options.forbidRename ?? false,
    posixRename: options.posixRename ?? true,
    renameOverwrites: options.renameOverwrites ?? false,
    readOnly: options.readOnly ?? false,
    oneWriterPerFile: options.oneWriterPerFile ?? false,
    writing: new Set(),
  };
  const debug = options.debug;

  const connections = new Set<Connection>();
  const sockets = new Set<net.Socket>();
  const ssh = new Server({ hostKeys: [hostKey], ident: 'eft_embedded_sftp', debug }, (conn) => {
    connections.add(conn);
    conn.on('close', () => connections.delete(conn));
    // Resets and protocol errors are the client's problem, never a crash here.
    conn.on('error', (err) => debug?.(`connection error: ${err.message}`));
    conn.on('authentication', authenticate);
    conn.on('ready', () => {
      conn.on('session', (acceptSession) => {
        const session = acceptSession();
        // No 'sftp' listener on purpose: ssh2 then hands the subsystem over as
        // a raw channel, and we speak SFTP on it ourselves. Shell, exec, pty
        // and forwarding requests have no listener, so ssh2 rejects them.
        session.on('subsystem', (accept, reject, info) => {
          if (info.name !== 'sftp') return reject();
          new SftpSession(accept(), jail, policy, debug);
        });
      });
    });
  });

  // Our own listener so every socket gets TCP_NODELAY before the handshake:
  // SFTP is request/response, and Nagle's algorithm otherwise stalls each
  // small reply for tens of milliseconds.
  const listener = net.createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    ssh.injectSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(options.port ?? 0, host, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  const { port } = listener.address() as net.AddressInfo;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      listener.close(() => resolve());
      // Polite SSH disconnect first; anything still open a second later is cut.
      for (const conn of connections) conn.end();
      const cutoff = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, 1000);
      cutoff.unref();
      listener.once('close', () => clearTimeout(cutoff));
    });
    return closing;
  };

  return { host, port, hostKeyFingerprint, close };
}

// ---------------------------------------------------------------------------
// Authentication

function parseSingleKey(key: string | Buffer, what: string): ParsedKey {
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error) throw new Error(`${what}: ${parsed.message}`);
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!first) throw new Error(`${what}: no key found`);
  return first;
}

const digest = (data: string | Buffer): Buffer => createHash('sha256').update(data).digest();

/** Equal-length digests make the comparison constant-time whatever the input lengths. */
function sameDigest(a: Buffer, b: Buffer | undefined): boolean {
  return b !== undefined && timingSafeEqual(a, b);
}

function makeAuthenticator(users: readonly SftpUser[]): (ctx: AuthContext) => void {
  const prepared = users.map((u) => {
    const key = u.publicKey ? parseSingleKey(u.publicKey, `publicKey of ${u.username}`) : undefined;
    return {
      username: digest(u.username),
      password: u.password !== undefined ? digest(u.password) : undefined,
      key,
      keyBlob: key ? digest(key.getPublicSSH()) : undefined,
    };
  });

  return (ctx) => {
    const name = digest(ctx.username);
    const user = prepared.find((u) => sameDigest(name, u.username));
    if (user && ctx.method === 'password' && sameDigest(digest(ctx.password), user.password)) return ctx.accept();
    if (user?.key && ctx.method === 'publickey' && sameDigest(digest(ctx.key.data), user.keyBlob)) {
      // Without a signature the client is only asking whether this key would
      // do; accept() then answers "yes, sign with it" (SSH_MSG_USERAUTH_PK_OK).
      if (!ctx.signature || !ctx.blob) return ctx.accept();
      if (user.key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
    }
    ctx.reject(['publickey', 'password']);
  };
}

// ---------------------------------------------------------------------------
// The jail: client paths → real paths inside root

/** A client path that resolves (through a symlink) to somewhere outside the root. */
class JailError extends Error {}

class Jail {
  constructor(readonly realRoot: string) {}

  /** Clients see a file system rooted at "/", with "/" as the working directory. */
  static normalize(clientPath: string): string {
    return path.posix.resolve('/', clientPath);
  }

  /**
   * Maps a client path to a real path inside the root. `..` cannot climb above
   * "/" (normalization), and symlinks are resolved with realpath and checked,
   * so neither can escape. With follow=false the last component is not
   * resolved (LSTAT, REMOVE, RENAME act on a link itself). A path that does not
   * exist yet resolves through its parent; callers that create files open with
   * O_NOFOLLOW so a dangling symlink in that last place is not followed either.
   * (Check-then-use races with other processes are out of scope for a test peer.)
   */
  async resolve(clientPath: string, follow: boolean): Promise<string> {
    const virtual = Jail.normalize(clientPath);
    const candidate = path.join(this.realRoot, virtual);
    if (virtual === '/') return this.realRoot;
    if (follow) {
      try {
        return this.inside(await fs.realpath(candidate));
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
    }
    const parent = this.inside(await fs.realpath(path.dirname(candidate)));
    return path.join(parent, path.basename(candidate));
  }

  private inside(realPath: string): string {
    const rel = path.relative(this.realRoot, realPath);
    if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      throw new JailError(`outside the root: ${realPath}`);
    }
    return realPath;
  }
}

// ---------------------------------------------------------------------------
// Errors → SFTP status

/** A handler's deliberate answer, e.g. "invalid handle" or a policy refusal. */
class StatusError extends Error {
  constructor(
    readonly code: StatusCode,
    message: string,
  ) {
    super(message);
  }
}

const errnoCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

// Messages are ours rather than Node's: Node's include the real path on disk,
// which would tell the client where its jail lives.
const ERRNO_MESSAGES: Record<string, string> = {
  EEXIST: 'File exists',
  ENOTEMPTY: 'Directory not empty',
  EISDIR: 'Is a directory',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  EXDEV: 'Cross-device link',
  EBUSY: 'Device or resource busy',
};

/** Same families as OpenSSH's errno_to_portable(). */
function statusFor(err: unknown): [StatusCode, string] {
  if (err instanceof StatusError) return [err.code, err.message];
  if (err instanceof BadMessage) return [STATUS.BAD_MESSAGE, `Bad message: ${err.message}`];
  if (err instanceof JailError) return [STATUS.PERMISSION_DENIED, 'Permission denied'];
  const code = errnoCode(err);
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ELOOP':
      return [STATUS.NO_SUCH_FILE, 'No such file'];
    case 'EACCES':
    case 'EPERM':
      return [STATUS.PERMISSION_DENIED, 'Permission denied'];
    case undefined:
      return [STATUS.FAILURE, 'Failure'];
    default:
      return [STATUS.FAILURE, ERRNO_MESSAGES[code] ?? `Failure (${code})`];
  }
}

// ---------------------------------------------------------------------------
// Attributes and `ls -l` lines

function statsToAttrs(st: Stats): Attrs {
  return {
    size: st.size,
    uid: st.uid,
    gid: st.gid,
    mode: st.mode,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

const TYPE_CHARS = new Map<number, string>([
  [fsConstants.S_IFDIR, 'd'],
  [fsConstants.S_IFLNK, 'l'],
  [fsConstants.S_IFCHR, 'c'],
  [fsConstants.S_IFBLK, 'b'],
  [fsConstants.S_IFIFO, 'p'],
  [fsConstants.S_IFSOCK, 's'],
]);

function modeString(mode: number): string {
  const typeChar = TYPE_CHARS.get(mode & fsConstants.S_IFMT) ?? '-';
  const triplet = (bits: number, special: boolean, specialChar: string): string => {
    const exec = bits & 1;
    const x = special ? (exec ? specialChar : specialChar.toUpperCase()) : exec ? 'x' : '-';
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${x}`;
  };
  return (
    typeChar +
    triplet((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    triplet((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    triplet(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_MS = 182 * 24 * 3600 * 1000;

/** The line `ls -l` would print (OpenSSH's format, with numeric owner and group). */
function longname(name: string, st: Stats): string {
  const t = st.mtime;
  const day = String(t.getDate()).padStart(2);
  const recent = Math.abs(Date.now() - t.getTime()) < SIX_MONTHS_MS;
  const when = recent
    ? `${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}`
    : ` ${t.getFullYear()}`;
  const owner = String(st.uid).padEnd(8);
  const group = String(st.gid).padEnd(8);
  return `${modeString(st.mode)} ${String(st.nlink).padStart(3)} ${owner} ${group} ${String(st.size).padStart(8)} ${MONTHS[t.getMonth()]} ${day} ${when} ${name}`;
}

// ---------------------------------------------------------------------------
// One SFTP session on one SSH channel

type Handle =
  | { kind: 'file'; file: fs.FileHandle; realPath: string; writer?: boolean }
  | { kind: 'dir'; realPath: string; names: string[]; next: number };

const MAX_OPEN_HANDLES = 1024;
const READDIR_BATCH = 100;
/** Stop reading from the channel (SSH flow control then stops the client) past this many queued requests. */
const QUEUE_HIGH_WATER = 256;
const QUEUE_LOW_WATER = 32;

function openFlags(pflags: number): number {
  const { READ, WRITE, APPEND, CREAT, TRUNC, EXCL } = OPEN_FLAGS;
  let flags = pflags & READ && pflags & WRITE ? fsConstants.O_RDWR : pflags & WRITE ? fsConstants.O_WRONLY : fsConstants.O_RDONLY;
  if (pflags & APPEND) flags |= fsConstants.O_APPEND;
  if (pflags & CREAT) flags |= fsConstants.O_CREAT;
  if (pflags & TRUNC) flags |= fsConstants.O_TRUNC;
  if (pflags & EXCL) flags |= fsConstants.O_EXCL;
  return flags;
}

class SftpSession {
  private readonly framer = new PacketFramer();
  private readonly queue: Buffer[] = [];
  private readonly handles = new Map<number, Handle>();
  private nextHandleId = 1;
  private initialized = false;
  private processing = false;
  private paused = false;
  private clientEnded = false;
  private finished = false;
  private closed = false;

  constructor(
    private readonly channel: ServerChannel,
    private readonly jail: Jail,
    private readonly policy: Policy,
    private readonly debug?: (message: string) => void,
  ) {
    channel.on('data', (chunk: Buffer) => this.onData(chunk));
    // The client sent EOF: answer what is queued, then close our side. Not
    // closing leaves OpenSSH's sftp and rclone waiting forever at exit.
    channel.on('end', () => {
      this.clientEnded = true;
      if (!this.processing) this.finish();
    });
    channel.on('close', () => {
      this.closed = true;
      this.queue.length = 0;
      void this.releaseHandles();
    });
    channel.on('error', (err: Error) => debug?.(`sftp channel error: ${err.message}`));
  }

  private onData(chunk: Buffer): void {
    try {
      this.queue.push(...this.framer.push(chunk));
    } catch (err) {
      // A broken length prefix desynchronizes the stream; nothing to recover.
      this.debug?.(`sftp framing error: ${(err as Error).message}`);
      this.finish();
      return;
    }
    if (this.queue.length > QUEUE_HIGH_WATER && !this.paused) {
      this.paused = true;
      this.channel.pause();
    }
    void this.processQueue();
  }

  private async processQueue(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      for (let packet = this.queue.shift(); packet && !this.closed; packet = this.queue.shift()) {
        if (this.paused && this.queue.length < QUEUE_LOW_WATER) {
          this.paused = false;
          this.channel.resume();
        }
        const reply = await this.dispatch(packet);
        if (reply) await this.send(reply);
      }
    } catch (err) {
      // dispatch() answers request errors itself; anything here is our bug.
      this.debug?.(`sftp session failed: ${(err as Error).stack}`);
      this.finish();
    } finally {
      this.processing = false;
    }
    if (this.clientEnded) this.finish();
  }

  /** Writes a reply, waiting for the channel to drain so slow readers are not buried. */
  private async send(reply: Buffer): Promise<void> {
    if (this.closed || this.channel.write(reply)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.channel.off('drain', done);
        this.channel.off('close', done);
        resolve();
      };
      this.channel.on('drain', done);
      this.channel.on('close', done);
    });
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    void this.releaseHandles();
    if (this.closed) return;
    this.channel.exit(0);
    this.channel.end();
  }

  private async releaseHandles(): Promise<void> {
    const files = [...this.handles.values()].filter((h) => h.kind === 'file');
    this.handles.clear();
    for (const h of files) if (h.writer) this.policy.writing.delete(h.realPath);
    await Promise.allSettled(files.map((h) => h.file.close()));
  }

  private async dispatch(packet: Buffer): Promise<Buffer | undefined> {
    const type = packet[0];
    const reader = new PacketReader(packet.subarray(1));
    if (type === PACKET.INIT) {
      this.initialized = true;
      // We always speak version 3, the version every client supports.
      const extensions: Record<string, string> = { 'limits@openssh.com': '1', 'fsync@openssh.com': '1' };
      if (this.policy.posixRename) extensions['posix-rename@openssh.com'] = '1';
      return encode.version(extensions);
    }
    let id: number;
    try {
      id = reader.uint32();
    } catch {
      this.finish();
      return undefined;
    }
    if (!this.initialized) {
      this.finish();
      return undefined;
    }
    try {
      return await this.handle(type, id, reader);
    } catch (err) {
      const [code, message] = statusFor(err);
      if (code === STATUS.FAILURE) this.debug?.(`sftp request ${type} failed: ${(err as Error).message}`);
      return encode.status(id, code, message);
    }
  }

  private ok(id: number): Buffer {
    return encode.status(id, STATUS.OK, 'Success');
  }

  private assertWritable(): void {
    if (this.policy.readOnly) throw new StatusError(STATUS.PERMISSION_DENIED, 'Permission denied (read-only)');
  }

  private handle(type: number | undefined, id: number, r: PacketReader): Promise<Buffer> | Buffer {
    switch (type) {
      case PACKET.OPEN:
        return this.open(id, r.string(), r.uint32(), r.attrs());
      case PACKET.CLOSE:
        return this.close(id, r.bytes());
      case PACKET.READ:
        return this.read(id, r.bytes(), r.uint64(), r.uint32());
      case PACKET.WRITE:
        return this.write(id, r.bytes(), r.uint64(), r.bytes());
      case PACKET.LSTAT:
        return this.stat(id, r.string(), false);
      case PACKET.STAT:
        return this.stat(id, r.string(), true);
      case PACKET.FSTAT:
        return this.fstat(id, r.bytes());
      case PACKET.SETSTAT:
        return this.setstat(id, r.string(), r.attrs());
      case PACKET.FSETSTAT:
        return this.fsetstat(id, r.bytes(), r.attrs());
      case PACKET.OPENDIR:
        return this.opendir(id, r.string());
      case PACKET.READDIR:
        return this.readdir(id, r.bytes());
      case PACKET.REMOVE:
        return this.remove(id, r.string());
      case PACKET.MKDIR:
        return this.mkdir(id, r.string(), r.attrs());
      case PACKET.RMDIR:
        return this.rmdir(id, r.string());
      case PACKET.REALPATH:
        return this.realpath(id, r.string());
      case PACKET.RENAME:
        return this.rename(id, r.string(), r.string(), this.policy.renameOverwrites);
      case PACKET.EXTENDED:
        return this.extended(id, r.string(), r);
      default:
        // READLINK, SYMLINK and anything unknown.
        return encode.status(id, STATUS.OP_UNSUPPORTED, 'Operation unsupported');
    }
  }

  private addHandle(h: Handle): Buffer {
    if (this.closed) throw new StatusError(STATUS.FAILURE, 'Session closed');
    if (this.handles.size >= MAX_OPEN_HANDLES) throw new StatusError(STATUS.FAILURE, 'Too many open handles');
    const n = this.nextHandleId++;
    this.handles.set(n, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(n);
    return buf;
  }

  /** Unknown or already-closed handles get FAILURE: clients must never be left waiting. */
  private lookup(handle: Buffer): Handle {
    const h = handle.length === 4 ? this.handles.get(handle.readUInt32BE(0)) : undefined;
    if (!h) throw new StatusError(STATUS.FAILURE, 'Invalid handle');
    return h;
  }

  private fileHandle(handle: Buffer): fs.FileHandle {
    const h = this.lookup(handle);
    if (h.kind !== 'file') throw new StatusError(STATUS.FAILURE, 'Invalid handle');
    return h.file;
  }

  private async open(id: number, clientPath: string, pflags: number, attrs: Attrs): Promise<Buffer> {
    const { WRITE, APPEND, CREAT, TRUNC } = OPEN_FLAGS;
    if (pflags & (WRITE | APPEND | CREAT | TRUNC)) this.assertWritable();
    const realPath = await this.jail.resolve(clientPath, true);
    const mode = attrs.mode !== undefined ? attrs.mode & 0o7777 : 0o666;
    const writer = this.policy.oneWriterPerFile && (pflags & (WRITE | APPEND)) !== 0;
    if (writer && this.policy.writing.has(realPath)) {
      throw new StatusError(STATUS.FAILURE, 'The file is open for writing by another handle');
    }
    const file = await fs.open(realPath, openFlags(pflags) | fsConstants.O_NOFOLLOW, mode);
    try {
      const handle = this.addHandle({ kind: 'file', file, realPath, writer });
      if (writer) this.policy.writing.add(realPath);
      return encode.handle(id, handle);
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  private async close(id: number, handle: Buffer): Promise<Buffer> {
    const h = this.lookup(handle);
    this.handles.delete(handle.readUInt32BE(0));
    if (h.kind === 'file') {
      if (h.writer) this.policy.writing.delete(h.realPath);
      await h.file.close();
    }
    return this.ok(id);
  }

  private async read(id: number, handle: Buffer, offset: number, length: number): Promise<Buffer> {
    const file = this.fileHandle(handle);
    const buf = Buffer.allocUnsafe(Math.min(length, MAX_READ_LENGTH));
    const { bytesRead } = await file.read(buf, 0, buf.length, offset);
    if (bytesRead === 0) return encode.status(id, STATUS.EOF, 'End of file');
    return encode.data(id, buf.subarray(0, bytesRead));
  }

  private async write(id: number, handle: Buffer, offset: number, data: Buffer): Promise<Buffer> {
    const file = this.fileHandle(handle);
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await file.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
    return this.ok(id);
  }

  private async stat(id: number, clientPath: string, follow: boolean): Promise<Buffer> {
    const realPath = await this.jail.resolve(clientPath, follow);
    const st = follow ? await fs.stat(realPath) : await fs.lstat(realPath);
    return encode.attrs(id, statsToAttrs(st));
  }

  private async fstat(id: number, handle: Buffer): Promise<Buffer> {
    const h = this.lookup(handle);
    const st = h.kind === 'file' ? await h.file.stat() : await fs.stat(h.realPath);
    return encode.attrs(id, statsToAttrs(st));
  }

  /** Size, permissions and times are applied; owner changes are accepted and ignored. */
  private async setstat(id: number, clientPath: string, attrs: Attrs): Promise<Buffer> {
    this.assertWritable();
    const realPath = await this.jail.resolve(clientPath, true);
    if (attrs.size !== undefined) await fs.truncate(realPath, attrs.size);
    if (attrs.mode !== undefined) await fs.chmod(realPath, attrs.mode & 0o7777);
    if (attrs.atime !== undefined && attrs.mtime !== undefined) await fs.utimes(realPath, attrs.atime, attrs.mtime);
    return this.ok(id);
  }

  private async fsetstat(id: number, handle: Buffer, attrs: Attrs): Promise<Buffer> {
    this.assertWritable();
    const h = this.lookup(handle);
    if (h.kind === 'dir') {
      if (attrs.mode !== undefined) await fs.chmod(h.realPath, attrs.mode & 0o7777);
      if (attrs.atime !== undefined && attrs.mtime !== undefined) await fs.utimes(h.realPath, attrs.atime, attrs.mtime);
      return this.ok(id);
    }
    if (attrs.size !== undefined) await h.file.truncate(attrs.size);
    if (attrs.mode !== undefined) await h.file.chmod(attrs.mode & 0o7777);
    if (attrs.atime !== undefined && attrs.mtime !== undefined) await h.file.utimes(attrs.atime, attrs.mtime);
    return this.ok(id);
  }

  private async opendir(id: number, clientPath: string): Promise<Buffer> {
    const realPath = await this.jail.resolve(clientPath, true);
    // Listed up front so permission errors surface on OPENDIR, as with OpenSSH.
    const names = await fs.readdir(realPath);
    return encode.handle(id, this.addHandle({ kind: 'dir', realPath, names, next: 0 }));
  }

  /** Batches of entries (lstat attrs, like OpenSSH; "." and ".." omitted), then EOF. */
  private async readdir(id: number, handle: Buffer): Promise<Buffer> {
    const h = this.lookup(handle);
    if (h.kind !== 'dir') throw new StatusError(STATUS.FAILURE, 'Invalid handle');
    while (h.next < h.names.length) {
      const batch = h.names.slice(h.next, h.next + READDIR_BATCH);
      h.next += batch.length;
      const entries: NameEntry[] = [];
      for (const name of batch) {
        try {
          const st = await fs.lstat(path.join(h.realPath, name));
          entries.push({ filename: name, longname: longname(name, st), attrs: statsToAttrs(st) });
        } catch {
          // Removed since OPENDIR: leave it out.
        }
      }
      if (entries.length > 0) return encode.name(id, entries);
    }
    return encode.status(id, STATUS.EOF, 'End of file');
  }

  private async remove(id: number, clientPath: string): Promise<Buffer> {
    this.assertWritable();
    await fs.unlink(await this.jail.resolve(clientPath, false));
    return this.ok(id);
  }

  private async mkdir(id: number, clientPath: string, attrs: Attrs): Promise<Buffer> {
    this.assertWritable();
    const mode = attrs.mode !== undefined ? attrs.mode & 0o7777 : 0o777;
    await fs.mkdir(await this.jail.resolve(clientPath, false), { mode });
    return this.ok(id);
  }

  private async rmdir(id: number, clientPath: string): Promise<Buffer> {
    this.assertWritable();
    await fs.rmdir(await this.jail.resolve(clientPath, false));
    return this.ok(id);
  }

  /** Pure normalization against "/": the jail has no symlink-free canonical form worth exposing. */
  private realpath(id: number, clientPath: string): Buffer {
    const virtual = Jail.normalize(clientPath);
    return encode.name(id, [{ filename: virtual, longname: virtual, attrs: {} }]);
  }

  /**
   * SFTP v3 RENAME fails when the target exists (unless the renameOverwrites
   * policy says otherwise); posix-rename@openssh.com always replaces it.
   * The existence check and the rename are not atomic; fine for a test peer.
   */
  private async rename(id: number, from: string, to: string, overwrite: boolean): Promise<Buffer> {
    this.assertWritable();
    if (this.policy.forbidRename) throw new StatusError(STATUS.PERMISSION_DENIED, 'Permission denied (rename)');
    const source = await this.jail.resolve(from, false);
    const target = await this.jail.resolve(to, false);
    await fs.lstat(source);
    if (!overwrite) {
      const exists = await fs.lstat(target).then(
        () => true,
        (err: unknown) => {
          if (errnoCode(err) === 'ENOENT') return false;
          throw err;
        },
      );
      if (exists) throw new StatusError(STATUS.FAILURE, 'File exists');
    }
    await fs.rename(source, target);
    return this.ok(id);
  }

  private async extended(id: number, name: string, r: PacketReader): Promise<Buffer> {
    switch (name) {
      case 'posix-rename@openssh.com':
        if (!this.policy.posixRename) break;
        return this.rename(id, r.string(), r.string(), true);
      case 'limits@openssh.com':
        return encode.limits(id, MAX_OPEN_HANDLES);
      case 'fsync@openssh.com':
        await this.fileHandle(r.bytes()).sync();
        return this.ok(id);
    }
    return encode.status(id, STATUS.OP_UNSUPPORTED, `Unsupported extension ${name}`);
  }
}
