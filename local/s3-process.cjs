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
const fs = require('node:fs/promises');
const path = require('node:path');
const S3rver = require('@20minutes/s3rver');

const { bucketOwners = {}, defaultOwner, ...options } = JSON.parse(process.env.EFT_CHILD_OPTIONS);
const server = new S3rver({ ...options, silent: true, allowMismatchedSignatures: true, vhostBuckets: false });
server.on('event', (event) => process.send?.({ records: event.Records }));

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
  const parts = await Promise.all(
    numbers.map(async (n) => {
      const { size } = await fs.stat(path.join(dir, String(n)));
      const md5 = await fs.readFile(path.join(dir, `${n}.md5`), 'utf8');
      return `<Part><PartNumber>${n}</PartNumber><ETag>"${md5}"</ETag><Size>${size}</Size></Part>`;
    }),
  );
  xml(
    ctx,
    200,
    `<ListPartsResult><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${xmlEscape(uploadId)}</UploadId><IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`,
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
// Koa composes middleware when the server starts: put ours before s3rver's router.
server.middleware.unshift(bucketOwnerCondition, missingOperations);

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
