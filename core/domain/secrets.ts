/** An endpoint's credentials. Lives only in the secret store; never in a record, log or response. */
export interface EndpointCredentials {
  password?: string;
  /** PEM or OpenSSH format. */
  privateKey?: string;
  passphrase?: string;
}

/** Where credentials live: Secrets Manager in AWS, a local file store locally. */
export interface SecretStore {
  /** Stores a new secret and returns its reference (an ARN in AWS). */
  create(name: string, value: EndpointCredentials, tags: Record<string, string>): Promise<string>;
  /** Rotation: a new version becomes current; readers from then on get it. */
  putVersion(ref: string, value: EndpointCredentials): Promise<void>;
  read(ref: string): Promise<EndpointCredentials>;
  remove(ref: string): Promise<void>;
  /**
   * A secret of the stack itself (not an endpoint's), by name: its current
   * value as text, e.g. the key that authenticates list cursors. The stack
   * creates it (in AWS, with a generated value); this only reads it.
   */
  readText(name: string): Promise<string>;
}
