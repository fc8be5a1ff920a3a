/**
 * SSH security policies (README "SSH security policies"): the key exchange,
 * cipher, MAC and host key algorithms the engine offers a partner's SFTP
 * server, named per endpoint (`sftp.securityPolicy`) the way AWS Transfer
 * Family names what it negotiates (TransferSecurityPolicy-FIPS-2024-01 etc.).
 *
 * Each list holds only algorithms ssh2 1.17 implements (its
 * SUPPORTED_KEX/CIPHER/MAC/SERVER_HOST_KEY; tests/unit/ssh-security-policies.test.ts
 * checks), in order of preference. Plain data: the API schema reads the names,
 * the SFTP adapter hands the lists to ssh2, docs/api.md renders them.
 */

export interface SshAlgorithms {
  kex: readonly string[];
  cipher: readonly string[];
  mac: readonly string[];
  serverHostKey: readonly string[];
}

export interface SshSecurityPolicy {
  /** What it is for, one sentence (rendered in docs/api.md). */
  description: string;
  algorithms: SshAlgorithms;
}

/**
 * FIPS 140-3 approved algorithms only, after AWS Transfer Family's
 * TransferSecurityPolicy-FIPS-2024-01, less what ssh2 does not implement (the
 * ML-KEM hybrid key exchanges). Group exchange is left to LEGACY: the server
 * picks its group, so the engine cannot hold it to 2048 bits and up.
 */
const FIPS: SshAlgorithms = {
  kex: [
    'ecdh-sha2-nistp256',
    'ecdh-sha2-nistp384',
    'ecdh-sha2-nistp521',
    'diffie-hellman-group14-sha256',
    'diffie-hellman-group16-sha512',
    'diffie-hellman-group18-sha512',
  ],
  cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes192-ctr', 'aes256-ctr'],
  mac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'],
  serverHostKey: ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256'],
};

/** FIPS plus the modern non-FIPS algorithms OpenSSH prefers (Curve25519, ChaCha20-Poly1305, Ed25519), first. */
const MODERN: SshAlgorithms = {
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org', ...FIPS.kex],
  cipher: [...FIPS.cipher, 'chacha20-poly1305@openssh.com'],
  mac: FIPS.mac,
  serverHostKey: ['ssh-ed25519', ...FIPS.serverHostKey],
};

/** MODERN plus SHA-1 and CBC algorithms still met on old partner servers; weak, so never a default. */
const LEGACY: SshAlgorithms = {
  kex: [
    ...MODERN.kex,
    'diffie-hellman-group-exchange-sha256',
    'diffie-hellman-group14-sha1',
    'diffie-hellman-group-exchange-sha1',
  ],
  cipher: [...MODERN.cipher, 'aes128-cbc', 'aes192-cbc', 'aes256-cbc'],
  mac: [...MODERN.mac, 'hmac-sha1-etm@openssh.com', 'hmac-sha1'],
  serverHostKey: [...MODERN.serverHostKey, 'ssh-rsa'],
};

export const SSH_SECURITY_POLICIES = {
  'FIPS-2024': {
    description:
      'FIPS 140-3 approved algorithms only (AWS Transfer Family TransferSecurityPolicy-FIPS-2024-01, as far as ssh2 implements it). The default.',
    algorithms: FIPS,
  },
  MODERN: {
    description:
      'FIPS-2024 plus Curve25519 key exchange, ChaCha20-Poly1305 and Ed25519 host keys: for partners without FIPS algorithms.',
    algorithms: MODERN,
  },
  LEGACY: {
    description:
      'MODERN plus group-exchange and SHA-1 key exchange, SHA-1 MACs, CBC ciphers and ssh-rsa host keys: only for partners that offer nothing newer; must be chosen explicitly.',
    algorithms: LEGACY,
  },
} as const satisfies Record<string, SshSecurityPolicy>;

export type SshSecurityPolicyName = keyof typeof SSH_SECURITY_POLICIES;
export const SSH_SECURITY_POLICY_NAMES = Object.keys(SSH_SECURITY_POLICIES) as [
  SshSecurityPolicyName,
  ...SshSecurityPolicyName[],
];

/**
 * The policy of new endpoints, and of endpoints stored before the setting
 * existed (read as this one: every connection to them is FIPS-only from then on).
 */
export const DEFAULT_SSH_SECURITY_POLICY: SshSecurityPolicyName = 'FIPS-2024';

/** The policy an SFTP endpoint's connections use: its own, or the default if it was stored without one. */
export function securityPolicyOf(settings: { securityPolicy?: SshSecurityPolicyName | undefined }): SshSecurityPolicyName {
  return settings.securityPolicy ?? DEFAULT_SSH_SECURITY_POLICY;
}
