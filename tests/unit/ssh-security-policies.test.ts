/**
 * The SSH security policies hold only algorithms ssh2 implements (a name it
 * does not know would be offered to nobody, silently), and each wider policy
 * contains the narrower one.
 */
import { DEFAULT_SSH_SECURITY_POLICY, SSH_SECURITY_POLICIES, type SshAlgorithms } from '../../core/domain/ssh-security-policies';

// ssh2's own lists of what it implements (not in its public typings).
const ssh2: Record<string, readonly string[]> = require('ssh2/lib/protocol/constants.js');
const SUPPORTED: Record<keyof SshAlgorithms, readonly string[]> = {
  kex: ssh2.SUPPORTED_KEX ?? [],
  cipher: ssh2.SUPPORTED_CIPHER ?? [],
  mac: ssh2.SUPPORTED_MAC ?? [],
  serverHostKey: ssh2.SUPPORTED_SERVER_HOST_KEY ?? [],
};
const CLASSES = Object.keys(SUPPORTED) as (keyof SshAlgorithms)[];
const policies = Object.entries(SSH_SECURITY_POLICIES);

test.each(policies)('every algorithm of %s is one ssh2 implements', (_name, { algorithms }) => {
  for (const algorithmClass of CLASSES) {
    expect(algorithms[algorithmClass].length).toBeGreaterThan(0);
    expect(algorithms[algorithmClass].filter((a) => !SUPPORTED[algorithmClass].includes(a))).toEqual([]);
  }
});

test('FIPS-2024 ⊂ MODERN ⊂ LEGACY, class by class', () => {
  const { 'FIPS-2024': fips, MODERN: modern, LEGACY: legacy } = SSH_SECURITY_POLICIES;
  for (const algorithmClass of CLASSES) {
    expect(modern.algorithms[algorithmClass]).toEqual(expect.arrayContaining([...fips.algorithms[algorithmClass]]));
    expect(legacy.algorithms[algorithmClass]).toEqual(expect.arrayContaining([...modern.algorithms[algorithmClass]]));
  }
});

test('FIPS-2024, the default, has no Curve25519, ChaCha20, Ed25519, SHA-1, CBC or ssh-rsa', () => {
  expect(DEFAULT_SSH_SECURITY_POLICY).toBe('FIPS-2024');
  const all = CLASSES.flatMap((c) => SSH_SECURITY_POLICIES['FIPS-2024'].algorithms[c]);
  expect(all.filter((a) => /25519|chacha|sha1|cbc|^ssh-rsa$|md5|3des/.test(a))).toEqual([]);
});
