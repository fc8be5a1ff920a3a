// Runs s3rver in its own process. s3rver encrypts list continuation tokens with
// DES, which Node's OpenSSL 3 only offers with --openssl-legacy-provider; keeping
// it here means no other process of the engine or the tests needs that flag.
// Protocol: EFT_CHILD_OPTIONS is a JSON options object; prints one JSON line {port} when
// listening; forwards S3 events to the parent over IPC; exits on SIGTERM.
//
// s3rver 5 lacks operations the engine uses (ListParts, ListMultipartUploads,
// AbortMultipartUpload answer 405/501) and ignores If-None-Match. They are
// served here, as S3 documents them, from s3rver's own store, so the engine's
// code runs unchanged against the emulator.
//
// Buckets have owners here, as in S3 (options.bucketOwners, else
// options.defaultOwner): a request whose x-amz-expected-bucket-owner (or, for a
// copy, x-amz-source-expected-bucket-owner) names another account is refused
// with S3's 403 AccessDenied, so tenant isolation is tested for real.
//
// S3's additional checksums, SHA-256 only (what the engine asks for; other
// algorithms are ignored, as s3rver always did), as S3 documents them:
// - CopyObject with x-amz-checksum-algorithm: SHA256: the copy's full-object
//   SHA-256 (base64) in CopyObjectResult <ChecksumSHA256>, <ChecksumType>FULL_OBJECT.
// - CreateMultipartUpload with it: the upload remembers the algorithm (file
//   `checksum-algorithm` in its upload directory); each UploadPartCopy into it
//   gets the part's SHA-256 (CopyPartResult <ChecksumSHA256>, kept as
//   `<part>.sha256`; an UploadPart too, in x-amz-checksum-sha256), ListParts
//   lists them, and CompleteMultipartUpload needs every part's (400
//   InvalidRequest if one is missing, InvalidPart if one differs) and answers
//   the COMPOSITE checksum base64(sha256(raw part digests, concatenated))-N
//   (<ChecksumSHA256>, <ChecksumType>COMPOSITE).
// - HeadObject and a whole-object GetObject with x-amz-checksum-mode: ENABLED:
//   x-amz-checksum-sha256 and x-amz-checksum-type (a range read gets none, as in S3).
// An object's checksum is kept in the bucket's directory (._S3rver_checksums/
// <sha256 of the key>.json, which s3rver does not list) with the object's ETag, and answered only while the object still
// has that ETag; any other write or delete of the key drops it. Not emulated:
// a CopyObject without the header keeping the source's checksum, and checksums
// a client sends with PutObject or UploadPart (not verified, and an UploadPart
// into a SHA-256 upload is not refused without one, as S3 would).
const crypto = require('node:crypto');
const { createReadStream } = require('node:fs');
const fs = require('node:fs/promises');
const path = require('node:path');
const { Readable } = require('node:stream');
const S3rver = require('@20minutes/s3rver');
// s3rver's own XML parser (a dependency of s3rver, not of the engine).
const { XMLParser } = require(
  require.resolve('fast-xml-parser', { paths: [path.dirname(require.resolve('@20minutes/s3rver'))] }),
);

const { bucketOwners = {}, defaultOwner, ...options } = JSON.parse(process.env.EFT_CHILD_OPTIONS);
const server = new S3rver({ ...options, silent: true, allowMismatchedSignatures: true, vhostBuckets: false });

// ---------------------------------------------------------------------------
// S3 shows an object whole or not at all; s3rver writes an object's file in place (PutObject,
// CompleteMultipartUpload, CopyObject), so a GET or a listing during the write saw part of it, which
// real S3 never shows (the failover drill's watcher looks for exactly that). The file is written
// beside its final name and renamed into place.
const FilesystemStore = require(
  require.resolve('./stores/filesystem', { paths: [path.dirname(require.resolve('@20minutes/s3rver'))] }),
);
const besides = (target) => `${target}.${crypto.randomBytes(6).toString('hex')}.writing`;
const putContentInPlace = FilesystemStore.prototype.putContent;
FilesystemStore.prototype.putContent = async function putContent(objectPath, content) {
  const temporary = besides(objectPath);
  try {
    let result;
    if (Buffer.isBuffer(content)) {
      // (s3rver's own answers before a Buffer is on disk.)
      await fs.writeFile(temporary, content);
      result = [content.length, crypto.createHash('md5').update(content).digest('hex')];
    } else {
      result = await putContentInPlace.call(this, temporary, content);
    }
    await fs.rename(temporary, objectPath);
    return result;
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
};
const copyObjectInPlace = FilesystemStore.prototype.copyObject;
FilesystemStore.prototype.copyObject = async function copyObject(srcBucket, srcKey, destBucket, destKey, metadata) {
  const source = this.getResourcePath(srcBucket, srcKey, 'object');
  const target = this.getResourcePath(destBucket, destKey, 'object');
  if (source !== target) {
    await fs.mkdir(path.dirname(target), { recursive: true });
    const temporary = besides(target);
    await fs.copyFile(source, temporary);
    await fs.rename(temporary, target);
    // The content is in place: s3rver's copy of an object onto itself does the rest (the metadata).
    const [md5, json] = await Promise.all([
      fs.readFile(this.getResourcePath(srcBucket, srcKey, 'object.md5')).catch(() => undefined),
      fs.readFile(this.getResourcePath(srcBucket, srcKey, 'metadata.json')),
    ]);
    if (!metadata) {
      if (md5 !== undefined) await fs.writeFile(this.getResourcePath(destBucket, destKey, 'object.md5'), md5);
      await fs.writeFile(this.getResourcePath(destBucket, destKey, 'metadata.json'), json);
      return this.getMetadata(destBucket, destKey);
    }
  }
  return copyObjectInPlace.call(this, destBucket, destKey, destBucket, destKey, metadata);
};

// ---------------------------------------------------------------------------
// Event notifications (to the parent, over IPC) as S3 sends them, where s3rver's differ:
// - the key URL-encoded as S3 encodes it (form encoding: a space is `+`, `/` stays); s3rver's is raw;
// - a sequencer that grows with every event, across restarts too (a clock-based prefix and a
//   counter): s3rver's is Date.now() in hex, equal for two writes in one millisecond, and S3's
//   consumers order a key's events by it;
// - ObjectCreated:CompleteMultipartUpload (s3rver says Post), and a copy's eTag (s3rver has none).
// A request's events are sent once it has been answered, in the order the objects were stored.
const { AsyncLocalStorage } = require('node:async_hooks');
const requestEvents = new AsyncLocalStorage();
let lastSequencer = 0n;
function nextSequencer() {
  const fromClock = BigInt(Date.now()) << 16n;
  lastSequencer = fromClock > lastSequencer ? fromClock : lastSequencer + 1n;
  return lastSequencer.toString(16).toUpperCase().padStart(18, '0');
}
const encodeKey = (key) =>
  encodeURIComponent(key)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
    .replace(/%2F/g, '/');

server.on('event', (event) => {
  const pending = requestEvents.getStore();
  for (const record of event.Records) {
    record.s3.object.sequencer = nextSequencer();
    record.s3.object.key = encodeKey(record.s3.object.key);
    if (pending?.completesUpload && record.eventName === 'ObjectCreated:Post')
      record.eventName = 'ObjectCreated:CompleteMultipartUpload';
    pending?.records.push(record);
  }
  if (!pending) process.send?.({ records: event.Records });
});

async function notifications(ctx, next) {
  const pending = { records: [], completesUpload: ctx.method === 'POST' && Boolean(ctx.query.uploadId) };
  try {
    await requestEvents.run(pending, next);
  } finally {
    if (pending.records.length) process.send?.({ records: pending.records });
  }
}

/** Right before the router, where CopyObject's result is still an object: its ETag for the copy's event. */
async function copiedETag(ctx, next) {
  await next();
  const etag = ctx.body?.CopyObjectResult?.ETag;
  const pending = requestEvents.getStore();
  if (etag && pending) for (const record of pending.records) record.s3.object.eTag ??= unquote(etag);
}

const xml = (ctx, status, body) => {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
};
const xmlEscape = (text) => String(text).replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
const s3Error = (ctx, status, code, message) =>
  xml(ctx, status, `<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>`);

function uploadsDir(bucket) {
  return server.store.getResourcePath(bucket, undefined, 'uploads');
}

async function listParts(ctx, bucket, key, uploadId) {
  const dir = path.join(uploadsDir(bucket), uploadId);
  const files = await fs.readdir(dir).catch(() => undefined);
  if (!files) return s3Error(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.');
  const numbers = files
    .filter((f) => /^\d+$/.test(f))
    .map(Number)
    .sort((a, b) => a - b);
  const algorithm = await uploadAlgorithm(bucket, uploadId);
  const parts = await Promise.all(
    numbers.map(async (n) => {
      const { size } = await fs.stat(path.join(dir, String(n)));
      const md5 = await fs.readFile(path.join(dir, `${n}.md5`), 'utf8');
      const sha256 = algorithm && (await partSha256(bucket, uploadId, n));
      const checksum = sha256 ? `<ChecksumSHA256>${sha256}</ChecksumSHA256>` : '';
      return `<Part><PartNumber>${n}</PartNumber><ETag>"${md5}"</ETag><Size>${size}</Size>${checksum}</Part>`;
    }),
  );
  const checksums = algorithm ? `<ChecksumAlgorithm>${algorithm}</ChecksumAlgorithm><ChecksumType>COMPOSITE</ChecksumType>` : '';
  xml(
    ctx,
    200,
    `<ListPartsResult><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${xmlEscape(uploadId)}</UploadId>${checksums}<IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`,
  );
}

async function listUploads(ctx, bucket, prefix) {
  const ids = await fs.readdir(uploadsDir(bucket)).catch(() => []);
  const uploads = [];
  for (const id of ids) {
    const key = await fs.readFile(path.join(uploadsDir(bucket), id, 'key'), 'utf8').catch(() => undefined);
    if (key === undefined || !key.startsWith(prefix)) continue;
    const { birthtime } = await fs.stat(path.join(uploadsDir(bucket), id));
    uploads.push(
      `<Upload><Key>${xmlEscape(key)}</Key><UploadId>${xmlEscape(id)}</UploadId><Initiated>${birthtime.toISOString()}</Initiated></Upload>`,
    );
  }
  xml(
    ctx,
    200,
    `<ListMultipartUploadsResult><Bucket>${xmlEscape(bucket)}</Bucket><Prefix>${xmlEscape(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`,
  );
}

async function abortUpload(ctx, bucket, uploadId) {
  const dir = path.join(uploadsDir(bucket), uploadId);
  if (!(await fs.stat(dir).catch(() => undefined)))
    return s3Error(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.');
  await fs.rm(dir, { recursive: true, force: true });
  ctx.status = 204;
}

/**
 * x-amz-copy-source as S3 reads it: `[/]bucket/key[?versionId=…]`, the key
 * URL-encoded. s3rver decodes it with decodeURI, which leaves %23 (#), %3F (?),
 * %2B (+)… encoded, so such keys were "not found"; it gets the decoded source
 * re-encoded so that decodeURI yields it exactly. A versionId is dropped: s3rver
 * keeps one version per key.
 */
function parseCopySource(header) {
  const [path] = header.replace(/^\//, '').split('?');
  const [bucket, ...key] = path.split('/');
  return { bucket: decodeURIComponent(bucket), key: decodeURIComponent(key.join('/')) };
}

const ownerOf = (bucket) => bucketOwners[bucket] ?? defaultOwner;

/** S3's bucket owner condition: a named owner that is not the bucket's fails the request (403). */
async function refusesOwner(bucket, expected) {
  if (!expected || !bucket || !(await server.store.getBucket(bucket))) return false;
  return expected !== ownerOf(bucket);
}

async function bucketOwnerCondition(ctx, next) {
  const bucket = decodeURIComponent(ctx.path.split('/')[1] ?? '');
  const copySource = ctx.get('x-amz-copy-source');
  const source = copySource ? parseCopySource(copySource) : undefined;
  if (
    (await refusesOwner(bucket, ctx.get('x-amz-expected-bucket-owner'))) ||
    (source && (await refusesOwner(source.bucket, ctx.get('x-amz-source-expected-bucket-owner'))))
  ) {
    return s3Error(ctx, 403, 'AccessDenied', 'Access Denied');
  }
  if (source) ctx.request.headers['x-amz-copy-source'] = encodeURI(`${source.bucket}/${source.key}`);
  return next();
}

async function missingOperations(ctx, next) {
  const [, bucket = '', ...rest] = ctx.path.split('/');
  const key = decodeURIComponent(rest.join('/'));
  const { query, method } = ctx;
  if (method === 'GET' && key === '' && 'uploads' in query) return listUploads(ctx, bucket, query.prefix ?? '');
  if (method === 'GET' && key && query.uploadId) return listParts(ctx, bucket, key, query.uploadId);
  if (method === 'DELETE' && key && query.uploadId) return abortUpload(ctx, bucket, query.uploadId);
  // Conditional writes: If-None-Match: * refuses to replace an existing object (PutObject, CopyObject, CompleteMultipartUpload).
  const writes = method === 'PUT' ? !query.partNumber : method === 'POST' && query.uploadId;
  if (writes && key && ctx.get('if-none-match') === '*' && (await server.store.existsObject(bucket, key))) {
    return s3Error(ctx, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  }
  return next();
}
// ---------------------------------------------------------------------------
// Additional checksums (see the header)

const SHA256 = 'SHA256';
const unquote = (etag) => String(etag ?? '').replace(/"/g, '');
const sha256Of = (file) =>
  new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest()));
  });
/** The COMPOSITE checksum of a multipart object: the SHA-256 of the parts' raw SHA-256 digests, then -<parts>. */
const compositeOf = (partChecksums) =>
  `${crypto
    .createHash('sha256')
    .update(Buffer.concat(partChecksums.map((c) => Buffer.from(c, 'base64'))))
    .digest('base64')}-${partChecksums.length}`;

const uploadFile = (bucket, uploadId, name) => path.join(uploadsDir(bucket), uploadId, name);
const readIfThere = (file) => fs.readFile(file, 'utf8').catch(() => undefined);
const uploadAlgorithm = (bucket, uploadId) => readIfThere(uploadFile(bucket, uploadId, 'checksum-algorithm'));
const partSha256 = (bucket, uploadId, n) => readIfThere(uploadFile(bucket, uploadId, `${n}.sha256`));

function checksumFile(bucket, key) {
  const name = `${crypto.createHash('sha256').update(key).digest('hex')}.json`;
  return path.join(server.store.getResourcePath(bucket, undefined, 'checksums'), name);
}
async function rememberChecksum(bucket, key, etag, type, value) {
  const file = checksumFile(bucket, key);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify({ key, etag: unquote(etag), algorithm: SHA256, type, value }));
}
const forgetChecksum = (bucket, key) => fs.rm(checksumFile(bucket, key), { force: true });
/** The object's checksum, if it was recorded for the object the key holds now (same ETag). */
async function checksumOf(bucket, key, etag) {
  const stored = await readIfThere(checksumFile(bucket, key)).then((text) => text && JSON.parse(text));
  return stored && stored.key === key && stored.etag === unquote(etag) ? stored : undefined;
}

const succeeded = (ctx) => ctx.status >= 200 && ctx.status < 300;
/** A request on the object itself, not on a subresource (?tagging, ?acl…); the SDK adds x-id. */
const onObject = (query) => Object.keys(query).every((name) => name === 'x-id' || name === 'versionId');

/** CopyObject: with the algorithm, the SHA-256 of the object as stored; without, the target has none. */
async function copyObject(ctx, next, bucket, key, algorithm) {
  await next();
  const result = ctx.body?.CopyObjectResult;
  if (!succeeded(ctx) || !result) return;
  if (!algorithm) return forgetChecksum(bucket, key);
  const value = (await sha256Of(server.store.getResourcePath(bucket, key, 'object'))).toString('base64');
  await rememberChecksum(bucket, key, result.ETag, 'FULL_OBJECT', value);
  Object.assign(result, { ChecksumType: 'FULL_OBJECT', ChecksumSHA256: value });
}

async function createUpload(ctx, next, bucket, algorithm) {
  const type = ctx.get('x-amz-checksum-type');
  if (algorithm && type && type !== 'COMPOSITE') {
    return s3Error(ctx, 400, 'InvalidRequest', `The ${type} checksum type cannot be used with the sha256 checksum algorithm.`);
  }
  await next();
  const uploadId = ctx.body?.InitiateMultipartUploadResult?.UploadId;
  if (!succeeded(ctx) || !uploadId || !algorithm) return;
  await fs.writeFile(uploadFile(bucket, uploadId, 'checksum-algorithm'), SHA256);
  ctx.set('x-amz-checksum-algorithm', SHA256);
  ctx.set('x-amz-checksum-type', 'COMPOSITE');
}

/** UploadPart and UploadPartCopy: a part of an upload with a checksum algorithm gets its SHA-256. */
async function uploadPart(ctx, next, bucket, uploadId, partNumber) {
  await next();
  if (!succeeded(ctx) || !(await uploadAlgorithm(bucket, uploadId))) return;
  const value = (await sha256Of(uploadFile(bucket, uploadId, String(partNumber)))).toString('base64');
  await fs.writeFile(uploadFile(bucket, uploadId, `${partNumber}.sha256`), value);
  if (ctx.body?.CopyPartResult) ctx.body.CopyPartResult.ChecksumSHA256 = value;
  else ctx.set('x-amz-checksum-sha256', value);
}

/** CompleteMultipartUpload: checks the parts' checksums (s3rver removes the upload), answers the composite. */
async function completeUpload(ctx, next, bucket, key, uploadId) {
  const algorithm = await uploadAlgorithm(bucket, uploadId);
  if (!algorithm) {
    await next();
    if (succeeded(ctx)) await forgetChecksum(bucket, key);
    return;
  }
  // The body is read here and handed on: s3rver reads it from ctx.req.
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  ctx.req = Readable.from([body]);
  const parsed = new XMLParser({ parseTagValue: false }).parse(body.toString('utf8'));
  const parts = [].concat(parsed?.CompleteMultipartUpload?.Part ?? []);
  const checksums = [];
  for (const part of parts) {
    const n = Number(part.PartNumber);
    if (!part.ChecksumSHA256) {
      const message = `The upload was created using a sha256 checksum. The complete request must include the checksum for each part. It was missing for part ${n} in the request.`;
      return s3Error(ctx, 400, 'InvalidRequest', message);
    }
    if (part.ChecksumSHA256 !== (await partSha256(bucket, uploadId, n))) {
      return s3Error(
        ctx,
        400,
        'InvalidPart',
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
      );
    }
    checksums.push(part.ChecksumSHA256);
  }
  await next();
  const result = ctx.body?.CompleteMultipartUploadResult;
  if (!succeeded(ctx) || !result) return;
  const value = compositeOf(checksums);
  await rememberChecksum(bucket, key, result.ETag, 'COMPOSITE', value);
  Object.assign(result, { ChecksumSHA256: value, ChecksumType: 'COMPOSITE' });
}

/** HeadObject and GetObject of the whole object, asked for checksums: the object's, if it has one. */
async function readObject(ctx, next, bucket, key) {
  await next();
  if (ctx.status !== 200) return;
  const checksum = await checksumOf(bucket, key, ctx.response.get('ETag'));
  if (!checksum) return;
  ctx.set('x-amz-checksum-sha256', checksum.value);
  ctx.set('x-amz-checksum-type', checksum.type);
}

async function additionalChecksums(ctx, next) {
  const [, bucket = '', ...rest] = ctx.path.split('/');
  const key = decodeURIComponent(rest.join('/'));
  if (!key) return next();
  const { method, query } = ctx;
  // Other algorithms are ignored, as s3rver always did (the object then reports no checksum).
  const algorithm = ctx.get('x-amz-checksum-algorithm').toUpperCase() === SHA256 ? SHA256 : '';
  const copy = Boolean(ctx.get('x-amz-copy-source'));
  if (method === 'POST' && 'uploads' in query) return createUpload(ctx, next, bucket, algorithm);
  if (method === 'PUT' && query.uploadId && query.partNumber) {
    return uploadPart(ctx, next, bucket, query.uploadId, Number(query.partNumber));
  }
  if (method === 'POST' && query.uploadId) return completeUpload(ctx, next, bucket, key, query.uploadId);
  if (!onObject(query)) return next();
  if (method === 'PUT' && copy) return copyObject(ctx, next, bucket, key, algorithm);
  if (method === 'PUT' || method === 'DELETE') {
    await next();
    if (succeeded(ctx)) await forgetChecksum(bucket, key);
    return;
  }
  const whole = !ctx.get('range') && !query.partNumber;
  if ((method === 'HEAD' || method === 'GET') && whole && ctx.get('x-amz-checksum-mode') === 'ENABLED') {
    return readObject(ctx, next, bucket, key);
  }
  return next();
}

// Koa composes middleware when the server starts: put ours before s3rver's, and
// the checksums right before its router, where response bodies are still objects
// (s3rver's own middleware turns them into XML on the way out).
server.middleware.unshift(notifications, bucketOwnerCondition, missingOperations);
const router = server.middleware.findIndex((middleware) => middleware.router);
if (router < 0) throw new Error("s3rver's router middleware was not found");
server.middleware.splice(router, 0, copiedETag, additionalChecksums);

server.run().then(
  (address) => process.stdout.write(`${JSON.stringify({ port: address.port })}\n`),
  (error) => {
    process.stderr.write(`s3rver failed to start: ${error.stack}\n`);
    process.exit(1);
  },
);
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
