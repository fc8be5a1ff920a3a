/**
 * Schedules at the domain level, against local DynamoDB (jobs, endpoints,
 * schedules, sightings) and OpenSSH's sshd as the partner: the test drives
 * the polls itself (poll, change the folder, poll again) with an injected
 * clock, so nothing waits for time. Job executions are recorded, not run; a
 * job is made SUCCEEDED (verified) by its transitions, as the state machine
 * would after verifying it.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { DynamoSightingStore } from '../../core/adapters/dynamodb/schedule-sightings';
import { networkPolicyFromEnv } from '../../core/adapters/net/network-policy';
import { LocalFileSecretStore } from '../../core/adapters/secrets/local-file-store';
import { type PollDeps, pollSchedule } from '../../core/control-plane/schedules/poll';
import { pollIdOf, type TickDeps, tick } from '../../core/control-plane/schedules/tick';
import { nextRunAfter } from '../../core/control-plane/triggers/schedule-timing';
import { ManualClock } from '../../core/domain/clock';
import type { Endpoint } from '../../core/domain/endpoint';
import { newScheduleId } from '../../core/domain/ids';
import type { TransferJob } from '../../core/domain/job';
import type { BatchInput, ExecutionStarter, JobKey } from '../../core/domain/ports';
import type { PollQueue, PollRequest } from '../../core/domain/schedule-polls';
import type { AfterTransferAction, Schedule } from '../../core/domain/triggers';
import { createLogger } from '../../core/observability/logger';
import { buildStores, type Stores } from '../../core/runtime/wiring';
import { engineDrivers } from '../support/drivers';
import { startTestDynamo, type TestDynamo } from '../support/local-dynamo';
import { freePort, type Sshd, startSshd } from '../support/sshd';

jest.setTimeout(60_000);

const REGION = 'us-gov-west-1';
const CUSTOMER = 'cust-sched';
const MINUTE = 60_000;

let dynamo: TestDynamo;
let sshd: Sshd;
let stores: Stores;
let clock: ManualClock;
let secrets: LocalFileSecretStore;
let keyRef: string;
let deps: PollDeps;
const started: (JobKey | BatchInput)[] = [];
const logs: string[] = [];
let seq = 0;

beforeAll(async () => {
  [dynamo, sshd] = await Promise.all([startTestDynamo(), startSshd()]);
  const tmp = await fs.mkdtemp(path.join(sshd.dataDir, 'secrets-'));
  secrets = new LocalFileSecretStore(tmp);
  keyRef = await secrets.create('sshd', { privateKey: sshd.privateKey });
  // Real time (file mtimes are real), moved by hand.
  clock = new ManualClock(Date.now());
  stores = buildStores(
    {
      ENDPOINTS_TABLE: dynamo.tables.endpoints,
      JOBS_TABLE: dynamo.tables.jobs,
      LEASES_TABLE: dynamo.tables.leases,
      AUDIT_TABLE: dynamo.tables.audit,
      PRINCIPALS_TABLE: dynamo.tables.principals,
      TRIGGERS_TABLE: dynamo.tables.triggers,
      TRIGGER_STATE_TABLE: dynamo.tables.triggerState,
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    },
    clock,
  );
  const executions: ExecutionStarter = {
    start: async (job) => void started.push(job),
    startBatch: async (batch) => void started.push(batch),
  };
  deps = {
    schedules: stores.schedules,
    endpoints: stores.endpoints,
    jobs: stores.jobs,
    drivers: engineDrivers({ secrets, networkPolicy: networkPolicyFromEnv({ EFT_ALLOWED_NETWORKS: '127.0.0.0/8' }) }),
    executions,
    sightings: new DynamoSightingStore(dynamo.db, dynamo.tables.triggerState),
    clock,
    region: REGION,
    log: createLogger({}, (line) => logs.push(line)),
    stableAfterMs: 30_000,
  };
}, 60_000);

afterAll(async () => {
  await Promise.all([dynamo?.close(), sshd?.stop()]);
});

/** An ACTIVE SFTP endpoint on the sshd peer, over a fresh folder under its data dir. */
async function sftpEndpoint(name: string): Promise<{ endpoint: Endpoint; dir: string }> {
  const dir = path.join(sshd.dataDir, `${name}-${++seq}`);
  await fs.mkdir(dir, { recursive: true });
  const endpoint = await stores.endpoints.create(
    {
      customerId: CUSTOMER,
      name: `${name}-${seq}`,
      type: 'SFTP',
      direction: 'BOTH',
      status: 'ACTIVE',
      maxConcurrency: 4,
      secretRef: keyRef,
      sftp: {
        host: sshd.host,
        port: sshd.port,
        username: sshd.username,
        basePath: dir,
        authType: 'PRIVATE_KEY',
        hostKeyFingerprint: sshd.hostKeyFingerprint,
      },
      capabilities: {
        write: true,
        renameToNew: true,
        renameOverExisting: false,
        posixRename: true,
        checkFile: false,
        multiHandleWrite: true,
      },
    },
    'test',
  );
  return { endpoint, dir };
}

interface Setup {
  schedule: Schedule;
  outbox: string;
  poll(): Promise<Awaited<ReturnType<typeof pollSchedule>>>;
}

/** A partner folder `outbound` polled into the target's `landing`, and a poll function that moves the clock a minute first. */
async function scheduled(
  options: { afterTransfer?: AfterTransferAction; minimumFileAgeSeconds?: number; pattern?: string } = {},
): Promise<Setup> {
  const [source, target] = await Promise.all([sftpEndpoint('partner'), sftpEndpoint('inbox')]);
  const outbox = path.join(source.dir, 'outbound');
  await fs.mkdir(outbox);
  clock.advance(1);
  const schedule = await stores.schedules.create(
    {
      scheduleId: newScheduleId(clock.now()),
      customerId: CUSTOMER,
      name: 'pickup',
      enabled: true,
      source: {
        endpointId: source.endpoint.endpointId,
        path: 'outbound',
        ...(options.pattern ? { pattern: options.pattern } : {}),
      },
      target: { endpointId: target.endpoint.endpointId, path: 'landing', createDirectories: true },
      timing: { kind: 'rate', everySeconds: 60 },
      minimumFileAgeSeconds: options.minimumFileAgeSeconds ?? 0,
      afterTransfer: options.afterTransfer ?? { action: 'LEAVE' },
      nextRunAt: new Date(clock.now()).toISOString(),
    },
    'test',
  );
  return {
    schedule,
    outbox,
    poll: () => {
      clock.advance(MINUTE);
      const dueAt = new Date(clock.now()).toISOString();
      return pollSchedule(deps, {
        customerId: CUSTOMER,
        scheduleId: schedule.scheduleId,
        pollId: pollIdOf(schedule.scheduleId, dueAt),
        dueAt,
      });
    },
  };
}

/** The state machine's path to SUCCEEDED (or FAILED), as after a verified delivery. */
async function finish(job: TransferJob, status: 'SUCCEEDED' | 'FAILED'): Promise<void> {
  const origin = { actor: 'sfn:test', region: REGION };
  await stores.jobs.transition(job, 'RUNNING', origin);
  if (status === 'FAILED') {
    await stores.jobs.transition(job, 'FAILED', { ...origin, errorCode: 'CONNECTION_LOST' });
    return;
  }
  await stores.jobs.transition(job, 'VERIFYING', origin);
  await stores.jobs.transition(job, 'SUCCEEDED', origin);
}

const exists = (file: string) =>
  fs.stat(file).then(
    () => true,
    () => false,
  );

describe('schedule polls: which files are taken', () => {
  it('takes a new file at the poll after it appeared, once, with the schedule as its origin', async () => {
    const { schedule, outbox, poll } = await scheduled();
    await fs.writeFile(path.join(outbox, 'a.csv'), 'alpha\n');

    const first = await poll();
    expect(first).toMatchObject({ listed: 1, waiting: 1, taken: [] });

    const second = await poll();
    expect(second.taken).toHaveLength(1);
    const [job] = second.taken as [TransferJob];
    expect(job).toMatchObject({
      status: 'QUEUED',
      flowType: 'SFTP_TO_SFTP',
      sourcePath: 'outbound/a.csv',
      targetPath: 'landing/a.csv',
      bytesTotal: 6,
      trigger: { kind: 'SCHEDULE', scheduleId: schedule.scheduleId, pollId: expect.stringMatching(/^poll_/) },
    });
    expect(job.afterTransfer).toBeUndefined();
    expect(job.transitions[0]).toMatchObject({ status: 'RECEIVED', actor: `schedule:${schedule.scheduleId}` });
    expect(started).toContainEqual(expect.objectContaining({ jobId: job.jobId }));

    // Later polls: nothing new, also once the job has succeeded (LEAVE keeps the file there).
    await finish(job, 'SUCCEEDED');
    for (let i = 0; i < 3; i++) expect((await poll()).taken).toEqual([]);
    expect(await exists(path.join(outbox, 'a.csv'))).toBe(true);
  });

  it('does not take a file while it grows between polls, then takes it whole', async () => {
    const { outbox, poll } = await scheduled();
    const file = path.join(outbox, 'big.dat');
    await fs.writeFile(file, 'x'.repeat(100));
    expect((await poll()).taken).toEqual([]);
    await fs.appendFile(file, 'y'.repeat(100));
    expect((await poll()).taken).toEqual([]);
    await fs.appendFile(file, 'z'.repeat(100));
    expect((await poll()).taken).toEqual([]);
    // Unchanged since the last poll: stable.
    const taken = (await poll()).taken;
    expect(taken.map((j) => [j.sourcePath, j.bytesTotal])).toEqual([['outbound/big.dat', 300]]);
  });

  it('does not count a second look by the same poll (a redelivered message) as proof of stability', async () => {
    const { schedule, outbox } = await scheduled();
    await fs.writeFile(path.join(outbox, 'r.csv'), 'r\n');
    clock.advance(MINUTE);
    const request = { customerId: CUSTOMER, scheduleId: schedule.scheduleId, pollId: 'poll_redelivered', dueAt: 'x' };
    expect((await pollSchedule(deps, request)).taken).toEqual([]);
    clock.advance(MINUTE);
    expect((await pollSchedule(deps, request)).taken).toEqual([]);
  });

  it('takes a file older than the minimum age at the first poll, and a young one only once stable', async () => {
    const { outbox, poll } = await scheduled({ minimumFileAgeSeconds: 600 });
    const old = path.join(outbox, 'old.csv');
    await fs.writeFile(old, 'old\n');
    // Times as the engine's clock sees them (it has moved a minute per poll of the tests before).
    const anHourAgo = new Date(clock.now() - 3600_000);
    await fs.utimes(old, anHourAgo, anHourAgo);
    const young = path.join(outbox, 'young.csv');
    await fs.writeFile(young, 'young\n');
    const justNow = new Date(clock.now());
    await fs.utimes(young, justNow, justNow);

    const first = await poll();
    expect(first.taken.map((j) => j.sourcePath)).toEqual(['outbound/old.csv']);
    expect(first.waiting).toBe(1);
    expect((await poll()).taken.map((j) => j.sourcePath)).toEqual(['outbound/young.csv']);
  });

  it('takes a changed file (new size or mtime) as a new job, and only the matching names', async () => {
    const { outbox, poll } = await scheduled({ pattern: '*.csv' });
    const file = path.join(outbox, 'daily.csv');
    await fs.writeFile(file, 'monday\n');
    await fs.writeFile(path.join(outbox, 'ignored.txt'), 'not a csv\n');
    await poll();
    const [monday] = (await poll()).taken as [TransferJob];
    expect(monday.sourcePath).toBe('outbound/daily.csv');

    await fs.writeFile(file, 'tuesday!\n');
    expect((await poll()).taken).toEqual([]);
    const [tuesday] = (await poll()).taken as [TransferJob];
    expect(tuesday.sourcePath).toBe('outbound/daily.csv');
    expect(tuesday.jobId).not.toBe(monday.jobId);
    expect(tuesday.bytesTotal).toBe(9);
  });

  it('skips the poll of a partner that cannot be reached (the next run polls again), and takes the file once it can', async () => {
    const { schedule, outbox, poll } = await scheduled();
    await fs.writeFile(path.join(outbox, 'later.csv'), 'later\n');
    const source = (await stores.endpoints.get(CUSTOMER, schedule.source.endpointId)) as Endpoint & { type: 'SFTP' };
    const closed = await freePort();
    const moved = await stores.endpoints.update(
      CUSTOMER,
      source.endpointId,
      source.version,
      { sftp: { ...source.sftp, port: closed } },
      'test',
      'endpoint.updated',
    );
    expect(await poll()).toMatchObject({ skipped: 'the partner folder could not be listed', taken: [] });
    expect(logs.some((line) => line.includes('CONNECTION_REFUSED'))).toBe(true);
    await stores.endpoints.update(CUSTOMER, source.endpointId, moved.version, { sftp: source.sftp }, 'test', 'endpoint.updated');
    await poll();
    expect((await poll()).taken.map((j) => j.sourcePath)).toEqual(['outbound/later.csv']);
  });

  it('skips a disabled or deleted schedule', async () => {
    const { schedule, outbox, poll } = await scheduled();
    await fs.writeFile(path.join(outbox, 'd.csv'), 'd\n');
    await stores.schedules.update(
      CUSTOMER,
      schedule.scheduleId,
      schedule.version,
      { enabled: false },
      'test',
      'schedule.disabled',
    );
    expect(await poll()).toMatchObject({ skipped: 'the schedule is disabled', listed: 0 });
    await stores.schedules.delete(CUSTOMER, schedule.scheduleId, 'test');
    expect(await poll()).toMatchObject({ skipped: 'the schedule was deleted' });
  });
});

describe('after-transfer actions', () => {
  it('deletes the file only after its job SUCCEEDED, and records it on the job', async () => {
    const { outbox, poll } = await scheduled({ afterTransfer: { action: 'DELETE' } });
    const file = path.join(outbox, 'del.csv');
    await fs.writeFile(file, 'delete me\n');
    await poll();
    const [job] = (await poll()).taken as [TransferJob];
    expect(job.afterTransfer).toEqual({ action: 'DELETE', status: 'PENDING', attempts: 0 });

    // Not yet verified: the file stays, however often the schedule polls.
    expect((await poll()).actions).toEqual({ done: 0, failed: 0, waiting: 1 });
    expect(await exists(file)).toBe(true);

    await finish(job, 'SUCCEEDED');
    expect((await poll()).actions).toMatchObject({ done: 1, failed: 0 });
    expect(await exists(file)).toBe(false);
    const after = await stores.jobs.get(job);
    expect(after).toMatchObject({ status: 'SUCCEEDED', afterTransfer: { action: 'DELETE', status: 'DONE', attempts: 1 } });

    // Done once: later polls neither run it again nor take anything.
    expect(await poll()).toMatchObject({ taken: [], actions: { done: 0, failed: 0, waiting: 0 } });
  });

  it('never runs an action on content that changed after it was taken: the old job shows it given up, the new one has its own', async () => {
    const { outbox, poll } = await scheduled({ afterTransfer: { action: 'DELETE' } });
    const file = path.join(outbox, 'rewritten.csv');
    await fs.writeFile(file, 'v1\n');
    await poll();
    const [first] = (await poll()).taken as [TransferJob];
    // The partner rewrites the file while the first job is still queued.
    await fs.writeFile(file, 'version 2\n');
    await poll();
    expect((await stores.jobs.get(first))?.afterTransfer).toMatchObject({
      status: 'FAILED',
      lastError: { code: 'SOURCE_CHANGED' },
    });
    await finish(first, 'SUCCEEDED');
    const [second] = (await poll()).taken as [TransferJob];
    expect(second.jobId).not.toBe(first.jobId);
    expect(await exists(file)).toBe(true);
    await finish(second, 'SUCCEEDED');
    expect((await poll()).actions).toMatchObject({ done: 1 });
    expect(await exists(file)).toBe(false);
    expect((await stores.jobs.get(first))?.afterTransfer).toMatchObject({ status: 'FAILED', attempts: 0 });
  });

  it('leaves the file of a FAILED job where it is, and does not take it again', async () => {
    const { outbox, poll } = await scheduled({ afterTransfer: { action: 'DELETE' } });
    const file = path.join(outbox, 'fails.csv');
    await fs.writeFile(file, 'x\n');
    await poll();
    const [job] = (await poll()).taken as [TransferJob];
    await finish(job, 'FAILED');
    expect(await poll()).toMatchObject({ taken: [], actions: { done: 0, failed: 0, waiting: 0 } });
    expect(await poll()).toMatchObject({ taken: [] });
    expect(await exists(file)).toBe(true);
    expect((await stores.jobs.get(job))?.afterTransfer).toMatchObject({ status: 'PENDING', attempts: 0 });
  });

  it('moves the file into the archive folder it creates, and keeps an earlier file of the same name', async () => {
    const { outbox, poll } = await scheduled({ afterTransfer: { action: 'MOVE', archivePath: 'archive/2026' } });
    const archive = path.join(outbox, '..', 'archive', '2026');
    const file = path.join(outbox, 'report.csv');
    await fs.writeFile(file, 'first\n');
    await poll();
    const [first] = (await poll()).taken as [TransferJob];
    expect(first.afterTransfer).toEqual({ action: 'MOVE', archivePath: 'archive/2026', status: 'PENDING', attempts: 0 });
    expect(await exists(archive)).toBe(false);
    await finish(first, 'SUCCEEDED');
    expect((await poll()).actions.done).toBe(1);
    expect(await fs.readFile(path.join(archive, 'report.csv'), 'utf8')).toBe('first\n');
    expect(await exists(file)).toBe(false);

    // The partner drops a file of the same name again: archived next to the first, not over it.
    await fs.writeFile(file, 'second\n');
    await poll();
    const [second] = (await poll()).taken as [TransferJob];
    expect(second.jobId).not.toBe(first.jobId);
    await finish(second, 'SUCCEEDED');
    expect((await poll()).actions.done).toBe(1);
    const archived = (await fs.readdir(archive)).sort();
    expect(archived).toEqual(['report.csv', expect.stringMatching(/^report\.csv\.\d{8}T\d{6}Z$/)]);
    expect(await fs.readFile(path.join(archive, archived[1] as string), 'utf8')).toBe('second\n');
  });

  it('shows a failed action on the job, keeps the job SUCCEEDED, and retries it on the next poll', async () => {
    const { outbox, poll } = await scheduled({ afterTransfer: { action: 'MOVE', archivePath: 'blocked/archive' } });
    // A FILE where the archive's parent folder should be: the folder cannot be made.
    const blocker = path.join(outbox, '..', 'blocked');
    await fs.writeFile(blocker, 'not a folder');
    const file = path.join(outbox, 'm.csv');
    await fs.writeFile(file, 'm\n');
    await poll();
    const [job] = (await poll()).taken as [TransferJob];
    await finish(job, 'SUCCEEDED');

    expect((await poll()).actions).toMatchObject({ done: 0, failed: 1 });
    const failed = await stores.jobs.get(job);
    expect(failed?.status).toBe('SUCCEEDED');
    expect(failed?.afterTransfer).toMatchObject({
      action: 'MOVE',
      status: 'FAILED',
      attempts: 1,
      lastError: { code: expect.any(String), message: expect.any(String) },
    });
    expect(await exists(file)).toBe(true);

    expect((await poll()).actions).toMatchObject({ done: 0, failed: 1 });
    expect((await stores.jobs.get(job))?.afterTransfer).toMatchObject({ status: 'FAILED', attempts: 2 });

    await fs.rm(blocker);
    expect((await poll()).actions).toMatchObject({ done: 1, failed: 0 });
    const done = await stores.jobs.get(job);
    expect(done?.afterTransfer).toMatchObject({ status: 'DONE', attempts: 3 });
    expect(done?.afterTransfer?.lastError).toBeUndefined();
    expect(await exists(path.join(blocker, 'archive', 'm.csv'))).toBe(true);
    // The file was taken once, whatever its action went through.
    expect(await poll()).toMatchObject({ taken: [] });
  });
});

describe('schedule tick', () => {
  /** A queue that keeps what it was sent. */
  function recordingQueue(): PollQueue & { sent: PollRequest[] } {
    const sent: PollRequest[] = [];
    return {
      sent,
      send: async (polls) => {
        sent.push(...polls);
        return [];
      },
    };
  }

  async function dueSchedule(nextRunAt: string, enabled = true): Promise<Schedule> {
    clock.advance(1);
    return stores.schedules.create(
      {
        scheduleId: newScheduleId(clock.now()),
        customerId: 'cust-tick',
        name: 'tick',
        enabled,
        source: { endpointId: 'ep_src', path: 'out' },
        target: { endpointId: 'ep_dst', path: 'in', createDirectories: true },
        timing: { kind: 'rate', everySeconds: 300 },
        minimumFileAgeSeconds: 0,
        afterTransfer: { action: 'LEAVE' },
        nextRunAt,
      },
      'test',
    );
  }

  it('two concurrent ticks claim each due run once: one poll message per run; a disabled schedule gets none', async () => {
    // Everything earlier tests left due is claimed first, so this test counts only its own schedules.
    const tickClock = new ManualClock(clock.now() + 24 * 3600_000);
    const base = (queue: PollQueue): TickDeps => ({
      schedules: stores.schedules,
      polls: queue,
      clock: tickClock,
      nextRunAfter,
      log: createLogger({}, (line) => logs.push(line)),
    });
    await tick(base(recordingQueue()));

    const dueAt = new Date(tickClock.now() - 3600_000).toISOString();
    const due = await Promise.all(Array.from({ length: 6 }, () => dueSchedule(dueAt)));
    const disabled = await dueSchedule(dueAt, false);
    const [a, b] = [recordingQueue(), recordingQueue()];
    await Promise.all([tick(base(a)), tick(base(b))]);

    const sent = [...a.sent, ...b.sent];
    expect(sent.map((p) => p.scheduleId).sort()).toEqual(due.map((s) => s.scheduleId).sort());
    expect(sent.map((p) => p.scheduleId)).not.toContain(disabled.scheduleId);
    expect(new Set(sent.map((p) => p.pollId)).size).toBe(6);

    // Behind by twelve periods of 5 minutes: it ran once, and is next due one period after now.
    const after = await stores.schedules.get('cust-tick', due[0]?.scheduleId as string);
    expect(after?.nextRunAt).toBe(new Date(tickClock.now() + 300_000).toISOString());
    const again = recordingQueue();
    await tick(base(again));
    expect(again.sent.filter((p) => due.some((s) => s.scheduleId === p.scheduleId))).toEqual([]);
  });

  it('gives a claim back when the queue refuses its poll, so the next tick sends it', async () => {
    const tickClock = new ManualClock(clock.now() + 48 * 3600_000);
    const deps = (queue: PollQueue): TickDeps => ({
      schedules: stores.schedules,
      polls: queue,
      clock: tickClock,
      nextRunAfter,
      log: createLogger({}, (line) => logs.push(line)),
    });
    await tick(deps(recordingQueue()));
    const schedule = await dueSchedule(new Date(tickClock.now() - 1000).toISOString());
    const refusing: PollQueue = { send: async (polls) => [...polls] };
    expect((await tick(deps(refusing))).unsent.map((p) => p.scheduleId)).toContain(schedule.scheduleId);
    const queue = recordingQueue();
    await tick(deps(queue));
    expect(queue.sent.map((p) => p.scheduleId)).toContain(schedule.scheduleId);
  });
});
