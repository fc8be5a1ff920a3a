import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiClient, ApiResponse } from '../../local/api-client';
import {
  type EmbeddedSftpServer,
  generateEd25519KeyPair,
  type SftpServerOptions,
  startSftpServer,
} from '../../local/sftp-server';
import { startTestEngine, type TestEngine } from '../support/local-engine';
import { type Sshd, startSshd } from '../support/sshd';

let engine: TestEngine;
let alice: ApiClient;
let sshd: Sshd;
let root: string;
const servers: EmbeddedSftpServer[] = [];
const PASSWORD = 'partner-pw-7f3a9c';

beforeAll(async () => {
  [engine, sshd] = await Promise.all([startTestEngine(), startSshd()]);
  alice = engine.alice.west;
  root = await mkdtemp(join(tmpdir(), 'eft-validate-'));
  await mkdir(join(root, 'outbound'));
}, 60_000);
afterAll(async () => {
  await Promise.all([engine.close(), sshd.stop(), ...servers.map((s) => s.close())]);
  await rm(root, { recursive: true, force: true });
});

async function embeddedServer(options: Partial<SftpServerOptions> = {}): Promise<EmbeddedSftpServer> {
  const server = await startSftpServer({ root, users: [{ username: 'partner', password: PASSWORD }], ...options });
  servers.push(server);
  return server;
}

function passwordEndpoint(
  server: EmbeddedSftpServer,
  overrides: { password?: string; basePath?: string; fingerprint?: string | null } = {},
) {
  return {
    type: 'SFTP',
    name: 'partner',
    direction: 'BOTH',
    sftp: {
      host: server.host,
      port: server.port,
      username: 'partner',
      basePath: overrides.basePath ?? '/outbound',
      ...(overrides.fingerprint === null ? {} : { hostKeyFingerprint: overrides.fingerprint ?? server.hostKeyFingerprint }),
    },
    credentials: { password: overrides.password ?? PASSWORD },
  };
}

function sshdEndpoint(privateKey: string) {
  return {
    type: 'SFTP',
    name: 'openssh partner',
    direction: 'BOTH',
    sftp: {
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      basePath: sshd.dataDir,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
    },
    credentials: { privateKey },
  };
}

async function createAndValidate(body: unknown): Promise<{ id: string; response: ApiResponse }> {
  const created = await alice.post('/endpoints', body);
  expect(created.status).toBe(201);
  const response = await alice.post(`/endpoints/${created.body.id}/validate`);
  expect(response.status).toBe(200);
  return { id: created.body.id, response };
}

describe('validation against OpenSSH sshd', () => {
  it('activates the endpoint and records what the server allows', async () => {
    const { response } = await createAndValidate(sshdEndpoint(sshd.privateKey));
    expect(response.body.endpoint).toMatchObject({
      status: 'ACTIVE',
      capabilities: { write: true, renameToNew: true, renameOverExisting: false, posixRename: true },
    });
  });

  it('fails with AUTH_FAILED for a key the server does not know', async () => {
    const otherKey = generateEd25519KeyPair().private;
    const { response } = await createAndValidate(sshdEndpoint(otherKey));
    expect(response.body.validation).toMatchObject({ ok: false, reason: 'AUTH_FAILED' });
    expect(response.body.endpoint.status).toBe('VALIDATION_FAILED');
    expect(response.body.endpoint.statusReason).toMatch(/authentication failed/i);
  });
});

describe('validation against the embedded SFTP server', () => {
  it('activates an endpoint with the right password', async () => {
    const server = await embeddedServer();
    const { response } = await createAndValidate(passwordEndpoint(server));
    expect(response.body.endpoint).toMatchObject({ status: 'ACTIVE', capabilities: { write: true, renameToNew: true } });
  });

  it('fails with AUTH_FAILED for a wrong password', async () => {
    const server = await embeddedServer();
    const { response } = await createAndValidate(passwordEndpoint(server, { password: 'not-the-password' }));
    expect(response.body.validation.reason).toBe('AUTH_FAILED');
    expect(response.body.endpoint.status).toBe('VALIDATION_FAILED');
  });

  it('refuses a server whose host key does not match the pinned one', async () => {
    const server = await embeddedServer();
    const impostor = await embeddedServer();
    const { response } = await createAndValidate(passwordEndpoint(server, { fingerprint: impostor.hostKeyFingerprint }));
    expect(response.body.validation).toMatchObject({
      ok: false,
      reason: 'HOST_KEY_MISMATCH',
      offeredHostKeyFingerprint: server.hostKeyFingerprint,
    });
    expect(response.body.endpoint.status).toBe('VALIDATION_FAILED');
  });

  it('makes trust on first use an explicit step: offered key reported, endpoint inactive until pinned', async () => {
    const server = await embeddedServer();
    const { id, response } = await createAndValidate(passwordEndpoint(server, { fingerprint: null }));
    expect(response.body.validation).toMatchObject({
      ok: false,
      reason: 'HOST_KEY_UNCONFIRMED',
      offeredHostKeyFingerprint: server.hostKeyFingerprint,
    });
    expect(response.body.endpoint.status).toBe('PENDING');
    expect((await alice.patch(`/endpoints/${id}`, { status: 'ACTIVE' })).status).toBe(409);

    await alice.patch(`/endpoints/${id}`, { sftp: { hostKeyFingerprint: response.body.validation.offeredHostKeyFingerprint } });
    const confirmed = await alice.post(`/endpoints/${id}/validate`);
    expect(confirmed.body.endpoint.status).toBe('ACTIVE');
  });

  it('fails with PATH_MISSING when the base path does not exist', async () => {
    const server = await embeddedServer();
    const { response } = await createAndValidate(passwordEndpoint(server, { basePath: '/no/such/dir' }));
    expect(response.body.validation.reason).toBe('PATH_MISSING');
  });

  it('records that a partner forbids renames', async () => {
    const server = await embeddedServer({ forbidRename: true });
    const { response } = await createAndValidate(passwordEndpoint(server));
    expect(response.body.endpoint.status).toBe('ACTIVE');
    expect(response.body.endpoint.capabilities).toMatchObject({ write: true, renameToNew: false, posixRename: false });
  });

  it('fails with CONNECTION_REFUSED when nothing listens', async () => {
    const server = await embeddedServer();
    const body = passwordEndpoint(server);
    await server.close();
    const { response } = await createAndValidate(body);
    expect(response.body.validation.reason).toBe('CONNECTION_REFUSED');
  });

  it('uses rotated credentials from the next validation on, without recreating the endpoint', async () => {
    const server = await embeddedServer();
    const { id, response } = await createAndValidate(passwordEndpoint(server, { password: 'stale-password' }));
    expect(response.body.validation.reason).toBe('AUTH_FAILED');
    const rotated = await alice.patch(`/endpoints/${id}`, { credentials: { password: PASSWORD } });
    expect(rotated.status).toBe(200);
    expect((await alice.post(`/endpoints/${id}/validate`)).body.endpoint.status).toBe('ACTIVE');
    const audit = await alice.get(`/endpoints/${id}/audit`);
    expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual([
      'endpoint.created',
      'endpoint.validation_failed',
      'endpoint.credentials_rotated',
      'endpoint.validated',
    ]);
  });
});

describe('S3 validation', () => {
  it('fails with BUCKET_MISSING for a bucket that does not exist', async () => {
    const { response } = await createAndValidate({
      type: 'S3',
      name: 'missing',
      direction: 'INBOUND',
      s3: { bucket: 'no-such-bucket-here', region: 'us-gov-west-1' },
    });
    expect(response.body.validation.reason).toBe('BUCKET_MISSING');
  });
});
