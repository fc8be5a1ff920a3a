import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';

/** A demo customer's access key, and the principal API Gateway would report for it. */
export interface LocalPrincipal {
  accessKeyId: string;
  secretAccessKey: string;
  principalArn: string;
}

export interface IncomingSignedRequest {
  method: string;
  /** Path as sent on the wire, without the query string. */
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export class SignatureError extends Error {
  constructor(
    readonly statusCode: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** API Gateway's own words for a signature it cannot reproduce (it appends the canonical request it computed). */
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** A header's value; only the request's own (a signed header named `constructor` is not Object's). */
function header(headers: IncomingSignedRequest['headers'], name: string): string | undefined {
  const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * One signer per principal and region, built on first use (the principals are fixed while the API runs),
 * hashing with node:crypto (the SDK's own Sha256; a pure-JavaScript one made SigV4 a visible share of a request).
 */
const signers = new WeakMap<LocalPrincipal, Map<string, SignatureV4>>();
function signerOf(principal: LocalPrincipal, region: string): SignatureV4 {
  let byRegion = signers.get(principal);
  if (!byRegion) {
    byRegion = new Map();
    signers.set(principal, byRegion);
  }
  let signer = byRegion.get(region);
  if (!signer) {
    signer = new SignatureV4({
      credentials: { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey },
      region,
      service: 'execute-api',
      sha256: Sha256,
      uriEscapePath: true,
      // Only the headers the client signed are signed again: the signer must not add x-amz-content-sha256
      // (curl --aws-sigv4 does not send it for execute-api, and SignedHeaders would then differ).
      applyChecksum: false,
    });
    byRegion.set(region, signer);
  }
  return signer;
}

/**
 * Verifies an AWS Signature Version 4 the way API Gateway's AWS_IAM
 * authorization does (service execute-api, this region, 5 minutes of clock
 * skew), by signing the same canonical request with the principal's secret and
 * comparing. Returns the principal the request is from.
 */
export async function verifySigV4(
  request: IncomingSignedRequest,
  region: string,
  principals: LocalPrincipal[],
  now = Date.now(),
): Promise<LocalPrincipal> {
  const authorization = header(request.headers, 'authorization');
  if (!authorization) throw new SignatureError(401, 'Missing Authentication Token');
  const match = AUTHORIZATION.exec(authorization);
  if (!match) throw new SignatureError(403, 'Authorization header is not a valid AWS Signature Version 4');
  const [, accessKeyId, , scopeRegion, scopeService, signedHeaderList = '', signature = ''] = match;
  const principal = principals.find((p) => p.accessKeyId === accessKeyId);
  if (!principal) throw new SignatureError(403, 'The security token included in the request is invalid');
  if (scopeRegion !== region || scopeService !== 'execute-api') {
    throw new SignatureError(403, `Credential should be scoped to a valid region and the execute-api service (${region})`);
  }
  const amzDate = header(request.headers, 'x-amz-date') ?? '';
  const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (!Number.isFinite(signedAt) || Math.abs(now - signedAt) > MAX_CLOCK_SKEW_MS) {
    throw new SignatureError(403, 'Signature expired or x-amz-date missing');
  }
  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) throw new SignatureError(403, 'The host header must be signed');
  if (signedHeaders.some((name) => header(request.headers, name) === undefined)) {
    throw new SignatureError(403, SIGNATURE_MISMATCH); // a header signed but not sent cannot be verified
  }

  // execute-api hashes the payload itself: the canonical request's last line is the SHA-256 of the bytes
  // it received, whatever the request says. UNSIGNED-PAYLOAD (and the STREAMING-* chunked forms) are
  // S3's; a client that signs one of them, or a hash of other bytes, signed another canonical request
  // than the one API Gateway computes, so its signature cannot match. A hash header, signed or not, must
  // therefore be the body's own, and the verification below uses that hash and no other.
  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  const declaredHash = header(request.headers, 'x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== bodyHash) throw new SignatureError(403, SIGNATURE_MISMATCH);

  const signer = signerOf(principal, region);
  const headers = Object.fromEntries(signedHeaders.map((name) => [name, header(request.headers, name) ?? '']));
  if (signedHeaders.includes('x-amz-content-sha256')) headers['x-amz-content-sha256'] = bodyHash;
  const host = headers.host ?? '';
  const expected = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: host.replace(/:\d+$/, ''),
      path: request.path,
      query: request.query,
      headers,
      // The exact bytes received (the signer hashes a Buffer as is), never a decoding of them.
      body: request.body,
    },
    { signingDate: new Date(signedAt), signableHeaders: new Set(signedHeaders) },
  );
  const expectedSignature = /Signature=([0-9a-f]{64})/.exec(String(expected.headers.authorization))?.[1] ?? '';
  const expectedHeaders = /SignedHeaders=([a-z0-9;-]+)/.exec(String(expected.headers.authorization))?.[1];
  if (
    expectedHeaders !== signedHeaderList ||
    !timingSafeEqual(Buffer.from(expectedSignature.padEnd(64, '0')), Buffer.from(signature))
  ) {
    throw new SignatureError(403, SIGNATURE_MISMATCH);
  }
  return principal;
}
