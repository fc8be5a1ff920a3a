import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFileSecretStore } from '../../core/adapters/secrets/local-file-store';
import { NotFoundError } from '../../core/domain/errors';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'eft-secrets-'));
});
afterEach(() => rm(directory, { recursive: true, force: true }));

describe('the stack’s own secrets in the local secret store', () => {
  it('are created once, with the first value, and kept by a later start', async () => {
    await new LocalFileSecretStore(directory).ensureText('eft/local/cursor-key', () => 'first value');
    // A restart: a new store on the same directory, which would generate another value.
    const restarted = new LocalFileSecretStore(directory);
    await restarted.ensureText('eft/local/cursor-key', () => 'second value');
    expect(await restarted.readText('eft/local/cursor-key')).toBe('first value');
  });

  it('are readable by the owner only', async () => {
    await new LocalFileSecretStore(directory).ensureText('eft/local/cursor-key', () => 'value');
    const mode = (await stat(join(directory, 'named', `${encodeURIComponent('eft/local/cursor-key')}.json`))).mode & 0o777;
    expect(mode).toBe(0o600);
  });

  it('answer a missing one with NotFoundError', async () => {
    await expect(new LocalFileSecretStore(directory).readText('eft/local/none')).rejects.toBeInstanceOf(NotFoundError);
  });
});
