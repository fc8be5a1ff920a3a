/**
 * SFTP version 3 wire format (draft-ietf-secsh-filexfer-02), server side only.
 *
 * ssh2 ships a server-side SFTP parser, but it hard-codes the VERSION reply with
 * no extensions, so a server built on it cannot advertise posix-rename@openssh.com
 * or limits@openssh.com. Clients only use extensions the server advertises, so we
 * speak the (small) protocol ourselves over the raw subsystem channel.
 */

export const PACKET = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

export const STATUS = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  OP_UNSUPPORTED: 8,
} as const;
export type StatusCode = (typeof STATUS)[keyof typeof STATUS];

export const OPEN_FLAGS = { READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 } as const;

const ATTR_FLAGS = { SIZE: 0x01, UIDGID: 0x02, PERMISSIONS: 0x04, ACMODTIME: 0x08, EXTENDED: 0x80000000 } as const;

/** Same limits as OpenSSH's sftp-server, so clients size their requests alike. */
export const MAX_PACKET_LENGTH = 256 * 1024;
export const MAX_READ_LENGTH = MAX_PACKET_LENGTH - 1024;
export const MAX_WRITE_LENGTH = MAX_PACKET_LENGTH - 1024;

export interface Attrs {
  size?: number;
  uid?: number;
  gid?: number;
  /** Full st_mode, file type bits included (clients derive isDirectory() from them). */
  mode?: number;
  atime?: number;
  mtime?: number;
}

export interface NameEntry {
  filename: string;
  longname: string;
  attrs: Attrs;
}

/** Thrown for packets that do not parse; the session answers BAD_MESSAGE or gives up. */
export class BadMessage extends Error {}

/** Sequential reader over one packet's payload (after the type byte). */
export class PacketReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new BadMessage('packet too short');
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  uint64(): number {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.offset);
    this.offset += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BadMessage('64-bit value out of range');
    return Number(v);
  }

  bytes(): Buffer {
    const len = this.uint32();
    this.need(len);
    const v = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return v;
  }

  string(): string {
    return this.bytes().toString('utf8');
  }

  attrs(): Attrs {
    const flags = this.uint32();
    const attrs: Attrs = {};
    if (flags & ATTR_FLAGS.SIZE) attrs.size = this.uint64();
    if (flags & ATTR_FLAGS.UIDGID) {
      attrs.uid = this.uint32();
      attrs.gid = this.uint32();
    }
    if (flags & ATTR_FLAGS.PERMISSIONS) attrs.mode = this.uint32();
    if (flags & ATTR_FLAGS.ACMODTIME) {
      attrs.atime = this.uint32();
      attrs.mtime = this.uint32();
    }
    if (flags & ATTR_FLAGS.EXTENDED) {
      const count = this.uint32();
      for (let i = 0; i < count; i++) {
        this.bytes();
        this.bytes();
      }
    }
    return attrs;
  }

  /** Whatever follows, for extension requests whose payload we parse separately. */
  rest(): Buffer {
    const v = this.buf.subarray(this.offset);
    this.offset = this.buf.length;
    return v;
  }
}

/** Builds one outgoing packet: uint32 length, then type and fields. */
class PacketWriter {
  private readonly parts: Buffer[] = [];

  constructor(type: number) {
    this.parts.push(Buffer.from([0, 0, 0, 0, type]));
  }

  uint32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }

  uint64(v: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(Math.max(0, Math.trunc(v))));
    this.parts.push(b);
    return this;
  }

  bytes(v: Buffer | string): this {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    this.uint32(b.length);
    this.parts.push(b);
    return this;
  }

  attrs(a: Attrs): this {
    let flags = 0;
    if (a.size !== undefined) flags |= ATTR_FLAGS.SIZE;
    if (a.uid !== undefined && a.gid !== undefined) flags |= ATTR_FLAGS.UIDGID;
    if (a.mode !== undefined) flags |= ATTR_FLAGS.PERMISSIONS;
    if (a.atime !== undefined && a.mtime !== undefined) flags |= ATTR_FLAGS.ACMODTIME;
    this.uint32(flags);
    if (a.size !== undefined) this.uint64(a.size);
    if (a.uid !== undefined && a.gid !== undefined) this.uint32(a.uid).uint32(a.gid);
    if (a.mode !== undefined) this.uint32(a.mode);
    if (a.atime !== undefined && a.mtime !== undefined) this.uint32(a.atime).uint32(a.mtime);
    return this;
  }

  finish(): Buffer {
    const packet = Buffer.concat(this.parts);
    packet.writeUInt32BE(packet.length - 4, 0);
    return packet;
  }
}

export const encode = {
  /** extensions: name → data, e.g. { 'posix-rename@openssh.com': '1' }. */
  version(extensions: Record<string, string>): Buffer {
    const w = new PacketWriter(PACKET.VERSION).uint32(3);
    for (const [name, data] of Object.entries(extensions)) w.bytes(name).bytes(data);
    return w.finish();
  },
  status(id: number, code: StatusCode, message: string): Buffer {
    return new PacketWriter(PACKET.STATUS).uint32(id).uint32(code).bytes(message).bytes('').finish();
  },
  handle(id: number, handle: Buffer): Buffer {
    return new PacketWriter(PACKET.HANDLE).uint32(id).bytes(handle).finish();
  },
  data(id: number, data: Buffer): Buffer {
    return new PacketWriter(PACKET.DATA).uint32(id).bytes(data).finish();
  },
  name(id: number, entries: readonly NameEntry[]): Buffer {
    const w = new PacketWriter(PACKET.NAME).uint32(id).uint32(entries.length);
    for (const e of entries) w.bytes(e.filename).bytes(e.longname).attrs(e.attrs);
    return w.finish();
  },
  attrs(id: number, attrs: Attrs): Buffer {
    return new PacketWriter(PACKET.ATTRS).uint32(id).attrs(attrs).finish();
  },
  /** limits@openssh.com reply: max packet, read and write lengths, and open handles (0 = no limit). */
  limits(id: number, maxOpenHandles: number): Buffer {
    return new PacketWriter(PACKET.EXTENDED_REPLY)
      .uint32(id)
      .uint64(MAX_PACKET_LENGTH)
      .uint64(MAX_READ_LENGTH)
      .uint64(MAX_WRITE_LENGTH)
      .uint64(maxOpenHandles)
      .finish();
  },
};

/**
 * Splits a byte stream into SFTP packets (uint32 length + body). Bodies larger
 * than MAX_PACKET_LENGTH are a protocol error: OpenSSH drops the session too.
 */
export class PacketFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < 4) return [];
    const first = this.chunks[0] as Buffer;
    const head = first.length >= 4 ? first : Buffer.concat(this.chunks, this.buffered);
    if (4 + checkedLength(head.readUInt32BE(0)) > this.buffered) return [];
    // Join only once a whole packet is here, so a 255 KiB WRITE arriving in
    // many channel chunks is copied once. Buffer.concat always copies, so no
    // packet aliases a buffer ssh2 might reuse while we process it later.
    let data = Buffer.concat(this.chunks, this.buffered);
    const packets: Buffer[] = [];
    while (data.length >= 4) {
      const len = checkedLength(data.readUInt32BE(0));
      if (data.length < 4 + len) break;
      packets.push(data.subarray(4, 4 + len));
      data = data.subarray(4 + len);
    }
    this.chunks = data.length > 0 ? [data] : [];
    this.buffered = data.length;
    return packets;
  }
}

function checkedLength(len: number): number {
  if (len === 0 || len > MAX_PACKET_LENGTH) throw new BadMessage(`bad packet length ${len}`);
  return len;
}
