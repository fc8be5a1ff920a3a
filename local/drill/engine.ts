import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { buildStores } from '../../core/runtime/wiring';
import { ApiClient } from '../api-client';
import { customerS3Client } from '../s3';
import { type LocalStack, type LocalStackOptions, REGIONS, startLocalStack } from '../stack';

export const WEST = REGIONS.west;
export const EAST = REGIONS.east;
const MiB = 1024 * 1024;

export interface DrillEngineOptions {
  /** Lease TTL of every function and worker (EFT_LEASE_TTL_MS): short, so takeovers happen in seconds. */
  leaseTtlMs: number;
  scheduleTickSeconds: number;
  /** Each region its own DynamoDB replica, replicated with this lag (the split-brain variant). */
  replicationLagMs?: number;
  echoLogs?: boolean;
}

/**
 * The local engine the drill runs against: a private state directory, a short lease TTL and
 * schedule tick, small multipart parts (so an S3→S3 copy of a few MiB has parts to resume from),
 * short retry pauses; and a restart of the whole engine on the same state directory.
 */
export class DrillEngine {
  private storesCache = new Map<string, ReturnType<typeof buildStores>>();
  private s3Client: S3Client | undefined;
  private stopping = false;
  /** Objects created per `bucket/key` (S3's ObjectCreated events), across restarts: a second one is a second delivery. */
  readonly s3Writes = new Map<string, number>();

  private constructor(
    public stack: LocalStack,
    private readonly stackOptions: LocalStackOptions,
    readonly stateDir: string,
  ) {
    this.countWrites();
  }

  private countWrites(): void {
    this.stack.s3.onEvent((record) => {
      if (!record.eventName.startsWith('ObjectCreated:')) return;
      // Keys in events are URL-encoded as S3 encodes them (a space is '+').
      const key = `${record.s3.bucket.name}/${decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '))}`;
      this.s3Writes.set(key, (this.s3Writes.get(key) ?? 0) + 1);
    });
  }

  static async start(options: DrillEngineOptions): Promise<DrillEngine> {
    const stateDir = await mkdtemp(join(tmpdir(), 'eft-drill-'));
    const stackOptions: LocalStackOptions = {
      stateDir,
      scheduleTickSeconds: options.scheduleTickSeconds,
      echoLogs: options.echoLogs,
      functionEnvironment: {
        EFT_LEASE_TTL_MS: String(options.leaseTtlMs),
        // A local worker (node + tsx) starts in a second, in several on a busy machine: more than the short TTL.
        EFT_WORKER_START_MS: String(Math.max(10_000, options.leaseTtlMs)),
        EFT_PROGRESS_INTERVAL_MS: '100',
        COPY_MULTIPART_THRESHOLD_BYTES: String(1 * MiB),
        COPY_PART_SIZE_BYTES: String(5 * MiB),
        EFT_LOCAL_RETRY_INTERVAL_MS: '200',
      },
      ...(options.replicationLagMs !== undefined ? { dynamoReplication: { lagMs: options.replicationLagMs } } : {}),
    };
    try {
      const stack = await startLocalStack(stackOptions);
      // A restart keeps the partner's and S3's addresses: endpoints registered with them stay right.
      stackOptions.ports = { sftp: stack.info.partnerSftp.port, s3: Number(new URL(stack.info.s3.endpoint).port) };
      return new DrillEngine(stack, stackOptions, stateDir);
    } catch (error) {
      await rm(stateDir, { recursive: true, force: true });
      throw error;
    }
  }

  get info() {
    return this.stack.info;
  }

  /** A customer's client against a region's API as it listens now (a restart may move it). */
  api(region: string, customerId = 'customer-a'): ApiClient {
    const customer = this.info.customers.find((c) => c.customerId === customerId);
    if (!customer) throw new Error(`no demo customer ${customerId}`);
    return new ApiClient(this.info.apis[region] ?? '', region, customer);
  }

  /**
   * The customer's S3 client (sources, the watcher). Destroyed before the engine stops: the local S3
   * waits for its open connections to end before it exits.
   */
  s3(): S3Client {
    // A new connection now would hold the stopping S3 open (the watcher polls on; it looks again later).
    if (this.stopping) throw new Error('the local engine is restarting');
    this.s3Client ??= customerS3Client(this.info.s3.endpoint);
    return this.s3Client;
  }

  private dropClients(): void {
    this.s3Client?.destroy();
    this.s3Client = undefined;
    this.storesCache.clear();
  }

  /** The engine's stores as a region's functions build them (its DynamoDB replica). */
  stores(region: string) {
    const environment = this.info.regions[region]?.environment ?? {};
    const key = `${region} ${environment.AWS_ENDPOINT_URL_DYNAMODB}`;
    let stores = this.storesCache.get(key);
    if (!stores) {
      stores = buildStores(environment);
      this.storesCache.set(key, stores);
    }
    return stores;
  }

  /**
   * The whole local engine goes down mid-transfer (west's processes by SIGKILL, the rest stopped) and
   * starts again on the same state directory: what survives is what the engine persists.
   */
  async restartEngine(): Promise<void> {
    this.stopping = true;
    try {
      await this.stack.killRegion(WEST, 'SIGKILL');
      this.dropClients();
      await this.stack.close();
      this.stack = await startLocalStack(this.stackOptions);
      this.countWrites();
    } finally {
      this.stopping = false;
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.dropClients();
    await this.stack.close();
    await rm(this.stateDir, { recursive: true, force: true });
  }
}
