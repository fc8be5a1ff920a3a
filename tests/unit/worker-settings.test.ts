import { DEFAULT_WORKER_CONFIG } from '../../core/data-plane/config';
import { ConfigurationError } from '../../core/domain/errors';
import { parseBatch } from '../../fargate-worker/overrides';
import { workerSettingsFromEnv } from '../../fargate-worker/settings';

/** What resources/worker.yml and the state machine give a one-job task (the local runtime sets the same). */
const LEASE = { partitionId: 'c1#ep_a#ep_b', executionId: 'arn:exec', region: 'us-gov-west-1', epoch: 3 };
const TASK = {
  ENDPOINTS_TABLE: 'eft-dev-endpoints',
  JOBS_TABLE: 'eft-dev-jobs',
  LEASES_TABLE: 'eft-dev-leases',
  AUDIT_TABLE: 'eft-dev-audit',
  PRINCIPALS_TABLE: 'eft-dev-principals',
  STAGING_BUCKET: 'eft-dev-staging',
  ENGINE_ACCOUNT_ID: '000000000000',
  AWS_REGION: 'us-gov-west-1',
  SECRETS_KMS_KEY_ID: 'alias/eft-dev',
  EFT_JOB: '{"customerId":"c1","jobId":"job_1"}',
  EFT_LEASE: JSON.stringify(LEASE),
};

const problemsWith = (env: NodeJS.ProcessEnv) => {
  try {
    workerSettingsFromEnv(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('the settings were accepted');
};

describe('the worker settings', () => {
  test('a task environment gives the job, lease, tables, staging bucket, region and the documented defaults', () => {
    const settings = workerSettingsFromEnv(TASK);

    expect(settings).toEqual({
      work: { kind: 'job', job: { customerId: 'c1', jobId: 'job_1' } },
      lease: LEASE,
      config: DEFAULT_WORKER_CONFIG,
      region: 'us-gov-west-1',
      tables: {
        endpoints: 'eft-dev-endpoints',
        jobs: 'eft-dev-jobs',
        leases: 'eft-dev-leases',
        audit: 'eft-dev-audit',
        principals: 'eft-dev-principals',
      },
      staging: { bucket: 'eft-dev-staging', owner: '000000000000' },
      networkPolicy: { allowedCidrs: [] },
    });
  });

  test('the defaults are the documented ones (core/data-plane/config.ts)', () => {
    const MiB = 1024 * 1024;
    expect(workerSettingsFromEnv(TASK).config).toEqual({
      leaseTtlMs: 300_000,
      heartbeatMs: 100_000,
      progressIntervalMs: 1000,
      partSizeBytes: 16 * MiB,
      partConcurrency: 4,
      sftpRequestBytes: 255 * 1024,
      sftpMaxInFlight: 64,
      sftpReadChannels: 2,
      sftpWriteChannels: 2,
      sftpChannelsMinBytes: 64 * MiB,
      sftpChannelsMinRttMs: 5,
      maxAttempts: 5,
      retryBaseMs: 1000,
      retryMaxMs: 30_000,
      stallTimeoutMs: 120_000,
      connectTimeoutMs: 20_000,
      hashMarkBytes: 8 * MiB,
      stagedReplicaWaitMs: 15 * 60_000,
    });
  });

  test.each([
    ['EFT_LEASE_TTL_MS', 'leaseTtlMs'],
    ['EFT_HEARTBEAT_MS', 'heartbeatMs'],
    ['EFT_PROGRESS_INTERVAL_MS', 'progressIntervalMs'],
    ['EFT_PART_SIZE_BYTES', 'partSizeBytes'],
    ['EFT_PART_CONCURRENCY', 'partConcurrency'],
    ['EFT_SFTP_REQUEST_BYTES', 'sftpRequestBytes'],
    ['EFT_SFTP_MAX_IN_FLIGHT', 'sftpMaxInFlight'],
    ['EFT_SFTP_READ_CHANNELS', 'sftpReadChannels'],
    ['EFT_SFTP_WRITE_CHANNELS', 'sftpWriteChannels'],
    ['EFT_SFTP_CHANNELS_MIN_BYTES', 'sftpChannelsMinBytes'],
    ['EFT_SFTP_CHANNELS_MIN_RTT_MS', 'sftpChannelsMinRttMs'],
    ['EFT_MAX_ATTEMPTS', 'maxAttempts'],
    ['EFT_RETRY_BASE_MS', 'retryBaseMs'],
    ['EFT_RETRY_MAX_MS', 'retryMaxMs'],
    ['EFT_STALL_TIMEOUT_MS', 'stallTimeoutMs'],
    ['EFT_CONNECT_TIMEOUT_MS', 'connectTimeoutMs'],
    ['EFT_HASH_MARK_BYTES', 'hashMarkBytes'],
    ['EFT_STAGED_REPLICA_WAIT_MS', 'stagedReplicaWaitMs'],
  ])('%s sets %s, and a bad value is refused by its name', (variable, key) => {
    expect(workerSettingsFromEnv({ ...TASK, [variable]: '7' }).config).toMatchObject({ [key]: 7 });
    expect(problemsWith({ ...TASK, [variable]: '7.5' })).toMatch(
      new RegExp(`^${variable} must be a (positive|non-negative) integer$`),
    );
  });

  test('an empty tunable keeps its default', () => {
    expect(workerSettingsFromEnv({ ...TASK, EFT_PART_CONCURRENCY: '' }).config.partConcurrency).toBe(4);
  });

  test('a short lease brings faster heartbeats unless EFT_HEARTBEAT_MS is set', () => {
    expect(workerSettingsFromEnv({ ...TASK, EFT_LEASE_TTL_MS: '3000' }).config.heartbeatMs).toBe(1000);
    expect(workerSettingsFromEnv({ ...TASK, EFT_LEASE_TTL_MS: '3000', EFT_HEARTBEAT_MS: '200' }).config.heartbeatMs).toBe(200);
  });

  test.each([
    'ENDPOINTS_TABLE',
    'JOBS_TABLE',
    'LEASES_TABLE',
    'AUDIT_TABLE',
    'PRINCIPALS_TABLE',
    'STAGING_BUCKET',
    'ENGINE_ACCOUNT_ID',
    'AWS_REGION',
    'EFT_LEASE',
  ])('a task without %s is refused by that name', (variable) => {
    expect(problemsWith({ ...TASK, [variable]: undefined })).toBe(`${variable} is not set`);
  });

  test('every problem is named at once', () => {
    const message = problemsWith({ ...TASK, STAGING_BUCKET: '', EFT_JOB: undefined, EFT_MAX_ATTEMPTS: 'many' });
    expect(message.split('; ').sort()).toEqual([
      'EFT_JOB is not set',
      'EFT_MAX_ATTEMPTS must be a positive integer',
      'STAGING_BUCKET is not set',
    ]);
  });

  test('a batch execution wins over EFT_JOB, which is then not read', () => {
    const settings = workerSettingsFromEnv({ ...TASK, EFT_BATCH_EXECUTION: 'arn:batch', EFT_JOB: 'not json' });
    expect(settings.work).toEqual({ kind: 'batch', executionArn: 'arn:batch' });
  });

  test('Secrets Manager needs SECRETS_KMS_KEY_ID; the local runtime’s secret files do not', () => {
    expect(problemsWith({ ...TASK, SECRETS_KMS_KEY_ID: undefined })).toBe('SECRETS_KMS_KEY_ID is not set');
    expect(() =>
      workerSettingsFromEnv({ ...TASK, SECRETS_KMS_KEY_ID: undefined, EFT_LOCAL_SECRETS_DIR: '/tmp/s' }),
    ).not.toThrow();
  });

  test('EFT_ALLOWED_NETWORKS becomes the network policy; an entry that is no CIDR is named', () => {
    expect(workerSettingsFromEnv({ ...TASK, EFT_ALLOWED_NETWORKS: '127.0.0.0/8, 10.1.0.0/16' }).networkPolicy).toEqual({
      allowedCidrs: ['127.0.0.0/8', '10.1.0.0/16'],
    });
    expect(problemsWith({ ...TASK, EFT_ALLOWED_NETWORKS: '127.0.0.0/8,nowhere' })).toMatch(
      /^EFT_ALLOWED_NETWORKS is not a list of CIDRs/,
    );
  });

  test('a refused value is described, never echoed', () => {
    const message = problemsWith({ ...TASK, EFT_LEASE: JSON.stringify({ ...LEASE, epoch: 'hunter2-secret' }) });
    expect(message).toBe('EFT_LEASE.epoch must be an integer');
  });
});

describe('the batch execution input', () => {
  test('lists the jobs of the batch', () => {
    expect(parseBatch('{"customerId":"c1","batchId":"batch_1","jobIds":["job_1","job_2"]}')).toEqual({
      customerId: 'c1',
      batchId: 'batch_1',
      jobIds: ['job_1', 'job_2'],
    });
  });

  test('is refused, naming the field, without a list of job ids', () => {
    expect(() => parseBatch('{"customerId":"c1","batchId":"batch_1"}')).toThrow(
      'the batch execution input: jobIds is not a list of job ids',
    );
    expect(() => parseBatch('{}}')).toThrow('the batch execution input is not JSON');
  });
});
