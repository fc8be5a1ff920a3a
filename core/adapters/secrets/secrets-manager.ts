import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RemoveRegionsFromReplicationCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { EndpointCredentials, SecretStore } from '../../domain/secrets';
import { awsClientConfig, engineClient } from '../aws-client-config';

/** arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<suffix> */
const SECRET_ARN = /^(arn:[\w-]+:secretsmanager:)([\w-]+)(:\d{12}:secret:.+)$/;

/** A Secrets Manager client for a region (the function's own, or the peer region's for replicas). */
export function createSecretsManagerClient(env: NodeJS.ProcessEnv, region = env.AWS_REGION): SecretsManagerClient {
  return engineClient(new SecretsManagerClient({ ...awsClientConfig('SECRETS_MANAGER', env), region }));
}

/**
 * Secrets Manager, one secret per endpoint, encrypted with the stack's KMS key
 * and replicated to the peer region, so either region can run the endpoint's
 * jobs. A replica has the primary's ARN with its own region: reads go to the
 * local replica, writes to the primary (replicas are read-only).
 */
export class SecretsManagerStore implements SecretStore {
  private readonly clients = new Map<string, SecretsManagerClient>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly kmsKeyId: string,
    private readonly peerRegion?: string,
  ) {}

  private client(region = this.env.AWS_REGION ?? ''): SecretsManagerClient {
    let client = this.clients.get(region);
    if (!client) {
      client = createSecretsManagerClient(this.env, region);
      this.clients.set(region, client);
    }
    return client;
  }

  async create(name: string, value: EndpointCredentials, tags: Record<string, string>): Promise<string> {
    const result = await this.client().send(
      new CreateSecretCommand({
        Name: name,
        KmsKeyId: this.kmsKeyId,
        SecretString: JSON.stringify(value),
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        // The alias exists under the same name in both regions (resources/kms.yml).
        ...(this.peerRegion ? { AddReplicaRegions: [{ Region: this.peerRegion, KmsKeyId: this.kmsKeyId }] } : {}),
      }),
    );
    if (!result.ARN) throw new Error('Secrets Manager returned no ARN');
    return result.ARN;
  }

  async putVersion(ref: string, value: EndpointCredentials): Promise<void> {
    await this.client(regionOf(ref)).send(new PutSecretValueCommand({ SecretId: ref, SecretString: JSON.stringify(value) }));
  }

  async read(ref: string): Promise<EndpointCredentials> {
    const local = this.env.AWS_REGION ?? '';
    const replica = ref.replace(SECRET_ARN, `$1${local}$3`);
    const result = await this.client(local).send(new GetSecretValueCommand({ SecretId: replica }));
    return JSON.parse(result.SecretString ?? '{}') as EndpointCredentials;
  }

  /** By name, in this region: the west stack's secret, or its replica (same name) in east. */
  async readText(name: string): Promise<string> {
    const result = await this.client().send(new GetSecretValueCommand({ SecretId: name }));
    if (result.SecretString === undefined) throw new Error(`secret ${name} has no text value`);
    return result.SecretString;
  }

  async remove(ref: string): Promise<void> {
    const primary = this.client(regionOf(ref));
    // A primary with replicas cannot be deleted.
    if (this.peerRegion)
      await primary.send(new RemoveRegionsFromReplicationCommand({ SecretId: ref, RemoveReplicaRegions: [this.peerRegion] }));
    await primary.send(new DeleteSecretCommand({ SecretId: ref, RecoveryWindowInDays: 7 }));
  }
}

function regionOf(ref: string): string | undefined {
  return SECRET_ARN.exec(ref)?.[2];
}
