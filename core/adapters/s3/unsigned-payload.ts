import type { PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';

/**
 * SigV4 signs a request body by its SHA-256 unless the request says its
 * payload is unsigned (the SDK's checksums are off already: the client asks
 * for them only WHEN_REQUIRED, core/adapters/s3/client.ts). The transfer
 * hashes every byte once for its own SHA-256; a second hash of each part cost
 * ~1 CPU-s per GB. Over HTTPS, TLS protects the part in transit, so parts go
 * as UNSIGNED-PAYLOAD (what the AWS CLI does over HTTPS); over plain HTTP
 * (only a local emulator) the payload stays signed.
 */
export function unsignedPayloadOverHttps<C extends UploadPartCommand | PutObjectCommand>(command: C): C {
  // The stack's add() is overloaded per step; the 'build' overload is the one meant.
  (command.middlewareStack as unknown as BuildStep).add(
    (next) => (args) => {
      const request = args.request as { protocol?: string; headers?: Record<string, string> };
      if (request.protocol === 'https:' && request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'eftUnsignedPayloadOverHttps' },
  );
  return command;
}

type BuildArgs = { request: unknown };
interface BuildStep {
  add(
    middleware: (next: (args: BuildArgs) => Promise<unknown>) => (args: BuildArgs) => Promise<unknown>,
    options: { step: 'build'; name: string },
  ): void;
}
