import type { S3Client } from '@aws-sdk/client-s3';
import type { NetworkPolicy } from '../adapters/net/network-policy';
import type { Endpoint, ProbeOutcome } from '../domain/endpoint';
import type { ConnectivityProbe } from '../domain/ports';
import type { EndpointCredentials } from '../domain/secrets';
import { probeS3, probeSftp } from '../adapters/sftp/probe';

/** Validates an endpoint with the probe of its type. */
export class EndpointProbe implements ConnectivityProbe {
  constructor(
    private readonly s3: S3Client,
    private readonly networkPolicy: NetworkPolicy,
  ) {}

  probe(endpoint: Endpoint, credentials: EndpointCredentials | undefined): Promise<ProbeOutcome> {
    if (endpoint.s3) return probeS3(this.s3, endpoint.s3);
    if (!endpoint.sftp) throw new Error(`endpoint ${endpoint.endpointId} has neither S3 nor SFTP settings`);
    const { host, port, username, hostKeyFingerprint, basePath } = endpoint.sftp;
    return probeSftp(
      { host, port, username, hostKeyFingerprint, credentials: credentials ?? {}, networkPolicy: this.networkPolicy },
      basePath,
    );
  }
}
