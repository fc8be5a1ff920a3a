import type { Connection, Connections } from '../domain/transfer/io';

/** The connections of one job, or of a batch's jobs together; closed by whoever made the scope. */
export class ConnectionScope implements Connections {
  private readonly kept = new Map<string, Connection>();

  keep<T extends Connection>(key: string, open: () => T): T {
    let connection = this.kept.get(key);
    if (!connection) {
      connection = open();
      this.kept.set(key, connection);
    }
    return connection as T;
  }

  /** Removes the secrets of every connection kept here from a message. */
  scrub(message: string): string {
    return [...this.kept.values()].reduce((text, connection) => connection.scrub(text), message);
  }

  /** Closes every connection; each opens again if used after. */
  async close(): Promise<void> {
    await Promise.all([...this.kept.values()].map((connection) => connection.close()));
  }
}
