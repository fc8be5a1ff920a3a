import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utils } from 'ssh2';
import type { ApiResponse } from '../../local/api-client';
import { type EmbeddedSftpServer, generateEd25519KeyPair, startSftpServer } from '../../local/sftp-server';
import { startTestEngine, type TestEngine } from '../support/local-engine';

let engine: TestEngine;
let server: EmbeddedSftpServer;
let root: string;

const PASSWORD = 'Sup3r-S3cret-Passw0rd-91c4';
const ROTATED_PASSWORD = 'R0tated-S3cret-Passw0rd-e2b8';
const PRIVATE_KEY = generateEd25519KeyPair().private;
const PASSPHRASE_PROTECTED = utils.generateKeyPairSync('rsa', {
  bits: 2048,
  passphrase: 'k3y-passphrase-55aa',
  cipher: 'aes256-ctr',
});
/** Every distinctive piece of secret material the test sends. */
const SECRETS = [
  PASSWORD,
  ROTATED_PASSWORD,
  'k3y-passphrase-55aa',
  ...[PRIVATE_KEY, PASSPHRASE_PROTECTED.private].flatMap((key) =>
    key.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----')),
  ),
];

beforeAll(async () => {
  engine = await startTestEngine();
  root = await mkdtemp(join(tmpdir(), 'eft-secrets-'));
  await mkdir(join(root, 'in'));
  server = await startSftpServer({ root, users: [{ username: 'partner', password: PASSWORD }] });
}, 60_000);
afterAll(async () => {
  await Promise.all([engine.close(), server.close()]);
  await rm(root, { recursive: true, force: true });
});

it('never shows credentials in any API response, error, audit record or log line', async () => {
  const alice = engine.alice.west;
  const responses: ApiResponse[] = [];
  const call = async (response: Promise<ApiResponse>) => {
    const r = await response;
    responses.push(r);
    return r;
  };
  const sftp = {
    host: server.host,
    port: server.port,
    username: 'partner',
    basePath: '/in',
    hostKeyFingerprint: server.hostKeyFingerprint,
  };

  const withPassword = await call(
    alice.post('/endpoints', { type: 'SFTP', name: 'pw', direction: 'BOTH', sftp, credentials: { password: PASSWORD } }),
  );
  const withKey = await call(
    alice.post('/endpoints', { type: 'SFTP', name: 'key', direction: 'BOTH', sftp, credentials: { privateKey: PRIVATE_KEY } }),
  );
  const withPassphrase = await call(
    alice.post('/endpoints', {
      type: 'SFTP',
      name: 'passphrase',
      direction: 'BOTH',
      sftp,
      credentials: { privateKey: PASSPHRASE_PROTECTED.private, passphrase: 'k3y-passphrase-55aa' },
    }),
  );
  for (const created of [withPassword, withKey, withPassphrase]) expect(created.status).toBe(201);
  const ids = [withPassword, withKey, withPassphrase].map((r) => r.body.id as string);

  // Refused requests that carry secrets must not echo them either.
  await call(
    alice.post('/endpoints', { type: 'SFTP', name: 'bad\n', direction: 'BOTH', sftp, credentials: { password: PASSWORD } }),
  );
  await call(
    alice.post('/endpoints', {
      type: 'SFTP',
      name: 'x',
      direction: 'BOTH',
      sftp,
      credentials: { password: PASSWORD, privateKey: PRIVATE_KEY },
    }),
  );
  await call(alice.post('/endpoints', `{"credentials": {"password": "${PASSWORD}"`));
  await call(engine.bob.west.patch(`/endpoints/${ids[0]}`, { credentials: { password: ROTATED_PASSWORD } }));

  for (const id of ids) {
    await call(alice.get(`/endpoints/${id}`));
    await call(alice.post(`/endpoints/${id}/validate`)); // succeeds (password) and fails (keys unknown to the server)
    await call(alice.patch(`/endpoints/${id}`, { name: 'renamed' }));
    await call(alice.patch(`/endpoints/${id}`, { credentials: { password: ROTATED_PASSWORD } }));
    await call(alice.post(`/endpoints/${id}/validate`)); // fails: the server does not know the rotated password
    await call(alice.patch(`/endpoints/${id}`, { status: 'DISABLED' }));
    await call(alice.get(`/endpoints/${id}/audit`));
    await call(alice.delete(`/endpoints/${id}`));
  }
  await call(alice.get('/endpoints?limit=100'));
  await call(engine.alice.east.get(`/endpoints/${ids[0]}`));

  expect(responses.some((r) => r.body?.validation?.ok === true)).toBe(true);
  expect(responses.some((r) => r.body?.validation?.reason === 'AUTH_FAILED')).toBe(true);
  await engine.stack.close(); // the functions' processes exit: every log line they wrote has been read
  const logs = engine.stack.logs();
  expect(logs.filter((line) => line.includes('"message":"request"')).length).toBe(responses.length);
  const everything = [...responses.map((r) => r.text), ...logs].join('\n');
  for (const secret of SECRETS) expect(everything).not.toContain(secret);
  expect(everything).not.toContain('PRIVATE KEY');
});
