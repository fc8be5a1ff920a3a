import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { DriverRegistry } from '../../core/adapters/drivers';
import { type NetworkPolicy, networkPolicyFromEnv } from '../../core/adapters/net/network-policy';
import { S3Driver } from '../../core/adapters/s3/driver';
import { DEFAULT_S3_COPY_CONFIG, type S3CopyConfig } from '../../core/adapters/s3/server-side-copy-config';
import { LocalFileSecretStore } from '../../core/adapters/secrets/local-file-store';
import { SftpDriver } from '../../core/adapters/sftp/driver';
import type { EndpointDriver } from '../../core/domain/drivers';
import type { SecretStore } from '../../core/domain/secrets';

/**
 * The engine's drivers, built as core/runtime/wiring.ts builds them, over the
 * peers a test has. A test that gives no S3 client fails if a driver sends an
 * S3 request (resolving paths needs none).
 */
export function engineDrivers(peers: Peers = {}): DriverRegistry {
  return new DriverRegistry(builtInDrivers(peers));
}

interface Peers {
  s3?: S3Client;
  secrets?: SecretStore;
  networkPolicy?: NetworkPolicy;
  /** The worker's budget to open one SFTP session. */
  connectTimeoutMs?: number;
  /** Server-side copies' part size and concurrency (the defaults unless given). */
  copyConfig?: S3CopyConfig;
}

export function builtInDrivers(peers: Peers = {}): EndpointDriver[] {
  const s3 = () => {
    if (!peers.s3) throw new Error('this test gave the S3 driver no client');
    return peers.s3;
  };
  return [
    new S3Driver({ s3, copyConfig: peers.copyConfig ?? DEFAULT_S3_COPY_CONFIG }),
    new SftpDriver({
      secrets: peers.secrets ?? new LocalFileSecretStore(join(tmpdir(), 'eft-test-no-secrets')),
      networkPolicy: peers.networkPolicy ?? networkPolicyFromEnv({}),
      ...(peers.connectTimeoutMs ? { connectTimeoutMs: peers.connectTimeoutMs } : {}),
    }),
  ];
}
