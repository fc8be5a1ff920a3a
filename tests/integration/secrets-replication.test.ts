/**
 * Endpoint credentials across regions (issue 15): the secret is created in the region whose API
 * registered the endpoint and replicated to the peer, and either region reads its own replica, so a
 * region that loses the other one still runs the endpoint's transfers. Against a Secrets Manager
 * stand-in over HTTP that keeps the service's replica rules (tests/support/secrets-manager-regions.ts).
 */
import { SecretsManagerStore } from '../../core/adapters/secrets/secrets-manager';
import { type SecretsManagerRegions, startSecretsManagerRegions } from '../support/secrets-manager-regions';

const WEST = 'us-gov-west-1';
const EAST = 'us-gov-east-1';
let service: SecretsManagerRegions;

beforeAll(async () => {
  service = await startSecretsManagerRegions();
});
afterAll(() => service.close());

/** The store as a region's functions build it (their environment), with the peer to replicate to. */
function storeOf(region: string, peer: string): SecretsManagerStore {
  return new SecretsManagerStore(
    {
      AWS_REGION: region,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: service.endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      // One attempt: a region that is down should fail the call now, not after the SDK's retries.
      AWS_MAX_ATTEMPTS: '1',
    },
    'alias/eft-test',
    peer,
  );
}

it('a secret created in one region is read from the replica in the other, also while its home region is down', async () => {
  const west = storeOf(WEST, EAST);
  const east = storeOf(EAST, WEST);
  const ref = await west.create('eft/test/ep_one', { password: 'first' }, { customer: 'c1' });
  expect(ref).toContain(`:${WEST}:`);
  expect(service.inspect(EAST, 'eft/test/ep_one')).toMatchObject({ primaryRegion: WEST });

  service.down(WEST);
  try {
    expect(await east.read(ref)).toEqual({ password: 'first' });
    await expect(west.read(ref)).rejects.toThrow();
  } finally {
    service.up(WEST);
  }
});

it('a rotation is written to the primary and reaches the replica the other region reads', async () => {
  const west = storeOf(WEST, EAST);
  const east = storeOf(EAST, WEST);
  const ref = await west.create('eft/test/ep_two', { password: 'first' }, {});
  // Rotated through the east API: the write still goes to the primary (replicas are read-only).
  await east.putVersion(ref, { password: 'second' });
  expect(await east.read(ref)).toEqual({ password: 'second' });
  expect(await west.read(ref)).toEqual({ password: 'second' });
});

it('a rotation while the secret’s home region is down fails (it is not written to the read-only replica)', async () => {
  const west = storeOf(WEST, EAST);
  const east = storeOf(EAST, WEST);
  const ref = await west.create('eft/test/ep_three', { password: 'first' }, {});
  service.down(WEST);
  try {
    await expect(east.putVersion(ref, { password: 'second' })).rejects.toThrow();
    // Transfers in east keep the credentials they had.
    expect(await east.read(ref)).toEqual({ password: 'first' });
  } finally {
    service.up(WEST);
  }
});
