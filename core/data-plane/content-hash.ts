/**
 * SHA-256 of content already at rest, for the no-overwrite decision: when the
 * destination already holds a file of the same size, the transfer succeeds
 * without a second delivery only if the content is the same. Both read with
 * the same pipelining and retries as a transfer (restarting from the first
 * byte: this is the rare path).
 */

import { Writable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SftpSession } from '../adapters/sftp/connect';
import { s3Failure } from '../domain/transfer/errors';
import { runPipeline } from '../domain/transfer/pipeline';
import { retrying } from '../domain/transfer/retry';
import { HashingStream, ResumableSha256 } from '../domain/transfer/sha256';
import { type HopContext, retryOptions, retryPolicyOf } from './context';
import { readObject, type S3ObjectRef } from './s3-objects';
import { sftpFailure } from './sftp-channel';
import type { SftpConnector } from './sftp-endpoint';
import { SftpReadStream } from './sftp-read-stream';

const NEVER_REWOUND = Number.MAX_SAFE_INTEGER;

/** A sink that drops what it is given: the hash on the way is the point. */
function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() });
}

export async function sha256OfSftpFile(
  ctx: HopContext,
  connector: SftpConnector,
  path: string,
  role: 'source' | 'target',
): Promise<string> {
  return retrying(retryPolicyOf(ctx.config), retryOptions(ctx, `hash ${connector.locationOf(path)}`), async () => {
    let session: SftpSession | undefined;
    try {
      ({ session } = await connector.connect());
      const hash = new ResumableSha256(NEVER_REWOUND);
      const reader = new SftpReadStream(session.sftp, path, {
        requestBytes: ctx.config.sftpRequestBytes,
        maxInFlight: ctx.config.sftpMaxInFlight,
        where: connector.where,
      });
      await runPipeline([reader, new HashingStream(hash), discard()], {
        signal: ctx.signal,
        stallTimeoutMs: ctx.config.stallTimeoutMs,
        position: () => hash.position,
      });
      return hash.hex();
    } catch (err) {
      const failure = sftpFailure(err, role, path, connector.where);
      if (failure.retryable) await connector.reset(session);
      throw failure;
    }
  });
}

export async function sha256OfS3Object(ctx: HopContext, s3: S3Client, object: S3ObjectRef & { etag?: string }): Promise<string> {
  const location = `s3://${object.bucket}/${object.key}`;
  return retrying(retryPolicyOf(ctx.config), retryOptions(ctx, `hash ${location}`), async () => {
    try {
      const body = await readObject(s3, object, { start: 0, ...(object.etag ? { etag: object.etag } : {}) }, ctx.signal);
      const hash = new ResumableSha256(NEVER_REWOUND);
      await runPipeline([body, new HashingStream(hash), discard()], {
        signal: ctx.signal,
        stallTimeoutMs: ctx.config.stallTimeoutMs,
        position: () => hash.position,
      });
      return hash.hex();
    } catch (err) {
      throw s3Failure(err, location, 'SOURCE_MISSING');
    }
  });
}
