/**
 * Secrets Manager in two regions, over HTTP (AWS JSON 1.1, as the SDK speaks it), for what has no
 * local stand-in: multi-region secrets. One listener serves both regions and tells them apart by
 * the SigV4 credential scope of each request. It keeps the rules the engine depends on:
 * - CreateSecret with AddReplicaRegions creates a read-only replica, under the same name and the
 *   primary's ARN with the replica's region, which every PutSecretValue on the primary updates;
 * - a replica refuses PutSecretValue;
 * - a region can be taken down: its requests are cut (the socket destroyed), as an unreachable
 *   region's endpoint behaves.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Secret {
  arn: string;
  name: string;
  region: string;
  value: string;
  versions: number;
  /** For a replica: the region of its primary. */
  primaryRegion?: string;
  /** For a primary: the regions of its replicas. */
  replicas: string[];
}

export interface SecretsManagerRegions {
  endpoint: string;
  /** Requests for this region are cut until up() */
  down(region: string): void;
  up(region: string): void;
  /** The secret of that name in that region, as the service holds it. */
  inspect(region: string, name: string): Secret | undefined;
  close(): Promise<void>;
}

const ACCOUNT = '000000000000';

export async function startSecretsManagerRegions(): Promise<SecretsManagerRegions> {
  const secrets = new Map<string, Secret>();
  const downRegions = new Set<string>();
  const keyOf = (region: string, name: string) => `${region}/${name}`;
  const find = (region: string, id: string): Secret | undefined => {
    const name = id.startsWith('arn:') ? (/:secret:(.+)-[A-Za-z0-9]{6}$/.exec(id)?.[1] ?? id) : id;
    return secrets.get(keyOf(region, name));
  };
  const arnOf = (region: string, name: string, suffix: string) =>
    `arn:aws-us-gov:secretsmanager:${region}:${ACCOUNT}:secret:${name}-${suffix}`;
  const replicate = (primary: Secret, region: string) => {
    secrets.set(keyOf(region, primary.name), {
      ...primary,
      arn: primary.arn.replace(`:${primary.region}:`, `:${region}:`),
      region,
      primaryRegion: primary.region,
      replicas: [],
    });
  };

  type Result = { status: number; body: Record<string, unknown> };
  const error = (status: number, type: string, message: string): Result => ({ status, body: { __type: type, message } });
  const notFound = (id: string) =>
    error(400, 'ResourceNotFoundException', `Secrets Manager can't find the specified secret: ${id}`);

  /** The request fields the operations read (the SDK's own shapes, as JSON). */
  interface Input {
    Name: string;
    SecretId: string;
    SecretString: string;
    AddReplicaRegions?: Array<{ Region: string }>;
  }
  const operations: Record<string, (region: string, input: Input) => Result> = {
    CreateSecret: (region, input) => {
      if (secrets.has(keyOf(region, input.Name))) return error(400, 'ResourceExistsException', 'the secret exists');
      const suffix = Math.random().toString(36).slice(2, 8).padEnd(6, 'x');
      const secret: Secret = {
        arn: arnOf(region, input.Name, suffix),
        name: input.Name,
        region,
        value: input.SecretString,
        versions: 1,
        replicas: (input.AddReplicaRegions ?? []).map((r) => r.Region),
      };
      secrets.set(keyOf(region, input.Name), secret);
      for (const replica of secret.replicas) replicate(secret, replica);
      return { status: 200, body: { ARN: secret.arn, Name: secret.name } };
    },
    PutSecretValue: (region, input) => {
      const secret = find(region, input.SecretId);
      if (!secret) return notFound(input.SecretId);
      if (secret.primaryRegion) return error(400, 'InvalidRequestException', 'Operation not permitted on a replica secret.');
      Object.assign(secret, { value: input.SecretString, versions: secret.versions + 1 });
      for (const replica of secret.replicas) {
        const copy = secrets.get(keyOf(replica, secret.name));
        if (copy?.primaryRegion === secret.region) Object.assign(copy, { value: secret.value, versions: secret.versions });
      }
      return { status: 200, body: { ARN: secret.arn } };
    },
    GetSecretValue: (region, input) => {
      const secret = find(region, input.SecretId);
      if (!secret) return notFound(input.SecretId);
      return { status: 200, body: { ARN: secret.arn, Name: secret.name, SecretString: secret.value } };
    },
  };

  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const region = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(request.headers.authorization))?.[1] ?? '';
    if (downRegions.has(region)) {
      request.socket.destroy();
      return;
    }
    const operation = String(request.headers['x-amz-target'] ?? '').replace('secretsmanager.', '');
    const handler = operations[operation];
    const result = handler
      ? handler(region, JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'))
      : error(400, 'InvalidAction', `${operation} is not served by this stand-in`);
    response.writeHead(result.status, { 'Content-Type': 'application/x-amz-json-1.1' });
    response.end(JSON.stringify(result.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    down: (region) => downRegions.add(region),
    up: (region) => downRegions.delete(region),
    inspect: (region, name) => secrets.get(keyOf(region, name)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
