/**
 * The worker's tunables (core/data-plane/config.ts reads them from the
 * environment, over defaults sized in its header): the drivers read theirs
 * from here too.
 */
export interface WorkerConfig {
  leaseTtlMs: number;
  heartbeatMs: number;
  progressIntervalMs: number;
  partSizeBytes: number;
  partConcurrency: number;
  sftpRequestBytes: number;
  sftpMaxInFlight: number;
  /** SFTP channels one file's READs are spread over (each has its own SSH window, ours: 4–16 MiB by the round trip). */
  sftpReadChannels: number;
  /** SFTP channels one file's WRITEs are spread over (each has its own SSH window, the server's: OpenSSH 2 MiB). */
  sftpWriteChannels: number;
  /** Files below this size use one channel: they are over within a window or two anyway. */
  sftpChannelsMinBytes: number;
  /** Links with a shorter round trip use one channel: there the windows are not what limits a transfer. */
  sftpChannelsMinRttMs: number;
  /** Attempts of one hop in a row without progress before a transient failure becomes final. */
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** A hop that moves no byte for this long is treated as a dead connection (TIMEOUT) and retried. */
  stallTimeoutMs: number;
  /** Budget to open one SFTP session (DNS, TCP, SSH handshake, authentication). */
  connectTimeoutMs: number;
  /** How often the hash state is snapshotted where a target resumes at any acknowledged byte (resume granularity). */
  hashMarkBytes: number;
  /**
   * How long after a staged copy was made in the other region its replica may
   * take to reach this one (S3 RTC: 15 minutes); a job taken over waits for it
   * until then, and fails with STAGED_COPY_UNAVAILABLE after.
   */
  stagedReplicaWaitMs: number;
}
