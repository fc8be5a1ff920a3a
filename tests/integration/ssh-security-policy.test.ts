/**
 * SSH security policies (README "SSH security policies"): every connection to
 * a partner offers only its endpoint's policy's algorithms; validation reports
 * what was negotiated, and refuses a partner with nothing in common
 * (NO_COMMON_ALGORITHM) naming what it offered. The peers are OpenSSH's sshd:
 * one with its defaults, one offering only algorithms outside FIPS-2024.
 */
import { openSftp, type SftpTarget } from '../../core/adapters/sftp/connect';
import { NoCommonAlgorithmError } from '../../core/domain/connectivity-errors';
import type { NegotiatedAlgorithms } from '../../core/domain/endpoint';
import { SSH_SECURITY_POLICIES } from '../../core/domain/ssh-security-policies';
import type { ApiClient } from '../../local/api-client';
import { startTestEngine, type TestEngine } from '../support/local-engine';
import { NON_FIPS_SSHD, type Sshd, startSshd } from '../support/sshd';

let engine: TestEngine;
let alice: ApiClient;
/** OpenSSH 9.x with its defaults (and an ECDSA host key). */
let sshd: Sshd;
/** Offers only curve25519-sha256, chacha20-poly1305, hmac-sha2-256-etm and an ed25519 host key. */
let nonFips: Sshd;

beforeAll(async () => {
  [engine, sshd, nonFips] = await Promise.all([startTestEngine(), startSshd(), startSshd(NON_FIPS_SSHD)]);
  alice = engine.alice.west;
}, 60_000);
afterAll(async () => {
  await Promise.all([engine.close(), sshd.stop(), nonFips.stop()]);
});

function endpointOf(peer: Sshd, securityPolicy?: string) {
  return {
    type: 'SFTP',
    name: 'openssh partner',
    direction: 'BOTH',
    sftp: {
      host: peer.host,
      port: peer.port,
      username: peer.username,
      basePath: peer.dataDir,
      hostKeyFingerprint: peer.hostKeyFingerprint,
      ...(securityPolicy ? { securityPolicy } : {}),
    },
    credentials: { privateKey: peer.privateKey },
  };
}

async function create(body: unknown): Promise<string> {
  const created = await alice.post('/endpoints', body);
  expect(created.status).toBe(201);
  return created.body.id;
}

async function validate(id: string) {
  const response = await alice.post(`/endpoints/${id}/validate`);
  expect(response.status).toBe(200);
  return response.body;
}

/** True if every negotiated algorithm is one of the policy's (no MAC is negotiated with an AEAD cipher). */
function within(negotiated: NegotiatedAlgorithms, policy: keyof typeof SSH_SECURITY_POLICIES): boolean {
  const { kex, cipher, mac, serverHostKey } = SSH_SECURITY_POLICIES[policy].algorithms;
  const aead = /gcm|poly1305/.test(negotiated.cipher);
  return (
    kex.includes(negotiated.kex) &&
    cipher.includes(negotiated.cipher) &&
    serverHostKey.includes(negotiated.serverHostKey) &&
    (aead ? negotiated.mac === '' : mac.includes(negotiated.mac))
  );
}

describe('an endpoint without a named policy', () => {
  it('gets FIPS-2024, and validates against OpenSSH with FIPS algorithms only, reported in its capabilities', async () => {
    const id = await create(endpointOf(sshd));
    const body = await validate(id);
    expect(body.endpoint).toMatchObject({ status: 'ACTIVE', sftp: { securityPolicy: 'FIPS-2024' } });
    const negotiated = body.endpoint.capabilities.negotiated as NegotiatedAlgorithms;
    expect(negotiated).toEqual({
      kex: expect.any(String),
      cipher: expect.any(String),
      mac: expect.any(String),
      serverHostKey: expect.any(String),
    });
    expect(within(negotiated, 'FIPS-2024')).toBe(true);
  });

  it('stored before policies existed, is read as FIPS-2024 and connects under it', async () => {
    const id = await create(endpointOf(nonFips, 'MODERN'));
    const stored = await engine.stores.endpoints.get('customer-a', id);
    if (stored?.type !== 'SFTP') throw new Error('the endpoint was not stored');
    const { securityPolicy: _policy, ...withoutPolicy } = stored.sftp;
    await engine.stores.endpoints.update('customer-a', id, stored.version, { sftp: withoutPolicy }, 'test', 'test.legacy_record');

    expect((await alice.get(`/endpoints/${id}`)).body.sftp.securityPolicy).toBe('FIPS-2024');
    const body = await validate(id);
    expect(body.validation).toMatchObject({ ok: false, reason: 'NO_COMMON_ALGORITHM' });
  });
});

describe('a partner offering only non-FIPS algorithms', () => {
  it('is refused under FIPS-2024 with NO_COMMON_ALGORITHM, naming what it offered', async () => {
    const id = await create(endpointOf(nonFips, 'FIPS-2024'));
    const body = await validate(id);
    expect(body.validation).toMatchObject({ ok: false, reason: 'NO_COMMON_ALGORITHM' });
    expect(body.validation.message).toMatch(/no key exchange algorithm of security policy FIPS-2024/);
    expect(body.validation.message).toMatch(/it offers curve25519-sha256/);
    expect(body.endpoint.status).toBe('VALIDATION_FAILED');
  });

  it('is accepted under MODERN, with the algorithms it offers', async () => {
    const id = await create(endpointOf(nonFips, 'MODERN'));
    const body = await validate(id);
    expect(body.endpoint.status).toBe('ACTIVE');
    expect(body.endpoint.capabilities.negotiated).toEqual({
      kex: 'curve25519-sha256',
      cipher: 'chacha20-poly1305@openssh.com',
      mac: '',
      serverHostKey: 'ssh-ed25519',
    });
    expect(within(body.endpoint.capabilities.negotiated, 'MODERN')).toBe(true);
  });

  it('is reached by every connection of the endpoint under its policy, not only validation (openSftp)', async () => {
    const target: SftpTarget = {
      host: nonFips.host,
      port: nonFips.port,
      username: nonFips.username,
      credentials: { privateKey: nonFips.privateKey },
      hostKeyFingerprint: nonFips.hostKeyFingerprint,
      networkPolicy: { allowedCidrs: ['127.0.0.0/8'] },
    };
    const refused = await openSftp(target).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NoCommonAlgorithmError);
    expect(refused).toMatchObject({ code: 'NO_COMMON_ALGORITHM', algorithmClass: 'kex', offered: ['curve25519-sha256'] });

    const legacy = await openSftp({ ...target, securityPolicy: 'LEGACY' });
    try {
      expect(legacy.negotiated.kex).toBe('curve25519-sha256');
    } finally {
      await legacy.close();
    }
  });
});

describe('the policy through the API', () => {
  it('refuses an unknown policy name with a 400 naming sftp.securityPolicy, on create and on update', async () => {
    const created = await alice.post('/endpoints', endpointOf(sshd, 'FIPS-2019'));
    expect(created.status).toBe(400);
    expect(created.body.error.fields).toEqual([
      expect.objectContaining({ field: 'sftp.securityPolicy', message: 'must be one of FIPS-2024, MODERN, LEGACY' }),
    ]);

    const id = await create(endpointOf(sshd));
    const patched = await alice.patch(`/endpoints/${id}`, { sftp: { securityPolicy: 'legacy' } });
    expect(patched.status).toBe(400);
    expect(patched.body.error.fields).toEqual([expect.objectContaining({ field: 'sftp.securityPolicy' })]);
  });

  it('treats a change of policy as a settings change: PENDING, audited with the policy, validated again', async () => {
    const id = await create(endpointOf(nonFips));
    expect((await validate(id)).endpoint.status).toBe('VALIDATION_FAILED');

    const patched = await alice.patch(`/endpoints/${id}`, { sftp: { securityPolicy: 'LEGACY' } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ status: 'PENDING', sftp: { securityPolicy: 'LEGACY' } });
    expect((await alice.patch(`/endpoints/${id}`, { status: 'ACTIVE' })).body.error.code).toBe('NOT_VALIDATED');
    expect((await validate(id)).endpoint.status).toBe('ACTIVE');

    const audit = await alice.get(`/endpoints/${id}/audit`);
    const events = audit.body.items.map((e: { action: string; details: Record<string, unknown> }) => [e.action, e.details]);
    expect(events).toContainEqual(['endpoint.created', expect.objectContaining({ securityPolicy: 'FIPS-2024' })]);
    expect(events).toContainEqual([
      'endpoint.updated',
      expect.objectContaining({ fields: expect.arrayContaining(['sftp']), securityPolicy: 'LEGACY', status: 'PENDING' }),
    ]);
  });

  it('is no change when it names the policy the endpoint already has', async () => {
    const id = await create(endpointOf(sshd));
    expect((await validate(id)).endpoint.status).toBe('ACTIVE');
    const patched = await alice.patch(`/endpoints/${id}`, { sftp: { securityPolicy: 'FIPS-2024' } });
    expect(patched.body.status).toBe('ACTIVE');
  });
});
