/**
 * The `eft` CLI end to end: the real bin (node cli/eft.js, as `npx eft` runs it) spawned against a
 * local engine this test starts, found through a local.json in a temporary state folder
 * (EFT_LOCAL_STATE) or --endpoint-url, as a customer's shell would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { customerS3Client } from '../../local/s3';
import { startTestEngine, type TestEngine } from '../support/local-engine';
import { readObject } from '../support/s3';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What the CLI was started with: what `ps` and shell history would show. */
  argv: string[];
}

const EFT = join(__dirname, '..', '..', 'cli', 'eft.js');
let engine: TestEngine;
let s3: S3Client;
let stateDir: string;
let workDir: string;
let partnerRoot: string;

/** Runs the real bin in a folder of its own (no .eft above it), `input` on its stdin, until it exits. */
function eft(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; onStdout?: (stdout: string, child: ChildProcess) => void } = {},
): Promise<CliRun> {
  const argv = [EFT, ...args];
  const { EFT_ENDPOINT_URL: _url, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: workDir, env: { ...env, EFT_LOCAL_STATE: stateDir, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      options.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, argv }));
    child.stdin.end(options.input ?? '');
  });
}

const read = (bucket: string, key: string) => readObject(s3, bucket, key);

async function partnerFile(path: string, content: string | Buffer) {
  await mkdir(join(partnerRoot, path, '..'), { recursive: true });
  await writeFile(join(partnerRoot, path), content);
}

beforeAll(async () => {
  engine = await startTestEngine();
  const info = engine.stack.info;
  s3 = customerS3Client(info.s3.endpoint);
  partnerRoot = info.partnerSftp.root;
  for (const folder of ['outbound', 'inbound']) await mkdir(join(partnerRoot, folder), { recursive: true });
  stateDir = await mkdtemp(join(tmpdir(), 'eft-cli-state-'));
  workDir = await mkdtemp(join(tmpdir(), 'eft-cli-work-'));
  await writeFile(join(stateDir, 'local.json'), JSON.stringify(info));
  await writeFile(join(workDir, 'partner.password'), `${info.partnerSftp.password}\n`, { mode: 0o600 });
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await engine?.close();
  await rm(stateDir, { recursive: true, force: true });
  await rm(workDir, { recursive: true, force: true });
});

const sftpArgs = (name: string, basePath: string) => {
  const partner = engine.stack.info.partnerSftp;
  return [
    '--name',
    name,
    '--host',
    partner.host,
    '--port',
    String(partner.port),
    '--username',
    partner.username,
    '--base-path',
    basePath,
  ];
};

describe('eft CLI against the local engine', () => {
  it('onboards the partner with a password file, confirms its host key at the prompt, and never shows the password', async () => {
    const info = engine.stack.info;
    const password = info.partnerSftp.password;
    const created = await eft([
      '--json',
      'endpoints',
      'create',
      'sftp',
      ...sftpArgs('partner-out', '/outbound'),
      '--direction',
      'OUTBOUND',
      '--password-file',
      join(workDir, 'partner.password'),
    ]);
    expect(created.code).toBe(0);
    const endpoint = JSON.parse(created.stdout);
    expect(endpoint).toMatchObject({ name: 'partner-out', status: 'PENDING', sftp: { authType: 'PASSWORD' } });
    for (const text of [created.argv.join(' '), created.stdout, created.stderr]) expect(text).not.toContain(password);
    const stored = await engine.alice.west.get(`/endpoints/${endpoint.id}`);
    expect(stored.text).not.toContain(password);

    // No answer (stdin ends): not trusted, and the error names the command that confirms it.
    const unanswered = await eft(['endpoints', 'validate', 'partner-out']);
    expect(unanswered.code).toBe(1);
    expect(unanswered.stdout).toContain(info.partnerSftp.hostKeyFingerprint);
    expect(unanswered.stderr).toContain(
      `eft endpoints validate ${endpoint.id} --fingerprint ${info.partnerSftp.hostKeyFingerprint}`,
    );

    const confirmed = await eft(['endpoints', 'validate', 'partner-out'], { input: 'y\n' });
    expect(confirmed.code).toBe(0);
    expect(confirmed.stdout).toContain(info.partnerSftp.hostKeyFingerprint);
    expect(confirmed.stdout).toContain('ACTIVE');
    expect((await engine.alice.west.get(`/endpoints/${endpoint.id}`)).body).toMatchObject({
      status: 'ACTIVE',
      sftp: { hostKeyFingerprint: info.partnerSftp.hostKeyFingerprint },
    });
  });

  it('validates with --fingerprint (a private key from a file) and an S3 endpoint, with --endpoint-url', async () => {
    const info = engine.stack.info;
    const inbound = await eft([
      'endpoints',
      'create',
      'sftp',
      ...sftpArgs('partner-in', '/inbound'),
      '--private-key-file',
      info.partnerSftp.privateKeyPath,
    ]);
    expect(inbound.code).toBe(0);
    const pinned = await eft([
      '--json',
      'endpoints',
      'validate',
      'partner-in',
      '--fingerprint',
      info.partnerSftp.hostKeyFingerprint,
    ]);
    expect(pinned.code).toBe(0);
    expect(JSON.parse(pinned.stdout)).toMatchObject({ endpoint: { status: 'ACTIVE', sftp: { authType: 'PRIVATE_KEY' } } });
    expect(pinned.stdout).not.toContain('PRIVATE KEY');

    const url = ['--endpoint-url', info.apis['us-gov-west-1'] ?? ''];
    const bucket = await eft([
      ...url,
      'endpoints',
      'create',
      's3',
      '--name',
      'bucket-in',
      '--bucket',
      'customer-a-inbox',
      '--prefix',
      'in/',
    ]);
    expect(bucket.code).toBe(0);
    const validated = await eft([...url, '--json', 'endpoints', 'validate', 'bucket-in']);
    expect(validated.code).toBe(0);
    expect(JSON.parse(validated.stdout).endpoint).toMatchObject({ name: 'bucket-in', type: 'S3', status: 'ACTIVE' });
    const outbox = ['--name', 'bucket-out', '--bucket', 'customer-a-outbox', '--prefix', 'out/', '--direction', 'OUTBOUND'];
    expect((await eft(['endpoints', 'create', 's3', ...outbox])).code).toBe(0);
    expect((await eft(['endpoints', 'validate', 'bucket-out'])).code).toBe(0);
  });

  it('copies the CSV files of a partner folder to the bucket, and --json prints only the result', async () => {
    const files = { 'a.csv': 'id,amount\n1,7\n', 'b.csv': 'id,amount\n2,14\n' };
    for (const [name, content] of Object.entries(files)) await partnerFile(`outbound/daily/${name}`, content);
    await partnerFile('outbound/daily/notes.txt', 'not a csv');
    const copied = await eft(['--json', 'cp', 'partner-out:/daily/*.csv', 'bucket-in:/incoming/', '--interval', '200']);
    expect(copied.code).toBe(0);
    const result = JSON.parse(copied.stdout);
    expect(result).toMatchObject({ requestId: expect.stringMatching(/^req_/), jobCount: 2, succeeded: 2, failed: 0 });
    expect(result.jobs.map((job: { source: { path: string } }) => job.source.path).sort()).toEqual([
      'daily/a.csv',
      'daily/b.csv',
    ]);
    for (const [name, content] of Object.entries(files)) {
      expect((await read('customer-a-inbox', `in/incoming/${name}`)).toString()).toBe(content);
    }
    await expect(read('customer-a-inbox', 'in/incoming/notes.txt')).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('exits 1 naming the failed job and its code when the target holds other content', async () => {
    await partnerFile('outbound/conflict/report.csv', 'the partner report');
    await s3.send(new PutObjectCommand({ Bucket: 'customer-a-inbox', Key: 'in/conflict/report.csv', Body: 'someone else' }));
    const copied = await eft(['cp', 'partner-out:/conflict/report.csv', 'bucket-in:/conflict/', '--interval', '200']);
    expect(copied.code).toBe(1);
    const failed = (await engine.alice.west.get('/jobs?status=FAILED')).body.items.find(
      (job: { source: { path: string } }) => job.source.path === 'conflict/report.csv',
    );
    expect(failed).toMatchObject({ error: { code: 'TARGET_EXISTS' } });
    expect(copied.stdout).toContain(`FAILED ${failed.jobId} TARGET_EXISTS`);
    expect(copied.stdout).toContain('0 succeeded, 1 failed');
  });

  it('--detach prints the request id at once; eft jobs watch follows it to the end', async () => {
    await partnerFile('outbound/later/one.csv', 'later');
    const detached = await eft(['cp', 'partner-out:/later/', 'bucket-in:/later/', '--detach']);
    expect(detached.code).toBe(0);
    const requestId = detached.stdout.trim();
    expect(requestId).toMatch(/^req_[0-9a-z]{26}$/);
    const watched = await eft(['--json', 'jobs', 'watch', requestId, '--interval', '200']);
    expect(watched.code).toBe(0);
    expect(JSON.parse(watched.stdout)).toMatchObject({ jobCount: 1, succeeded: 1 });
    expect((await read('customer-a-inbox', 'in/later/one.csv')).toString()).toBe('later');
  });

  it('Ctrl-C stops the watching, not the transfer: exit 130 and how to watch again', async () => {
    await partnerFile('outbound/interrupted/big.bin', Buffer.alloc(8 * 1024 * 1024, 7));
    let interrupted = false;
    const run = await eft(['cp', 'partner-out:/interrupted/', 'bucket-in:/interrupted/'], {
      // The request id is printed once the transfer exists: then the CLI is watching.
      onStdout: (stdout, child) => {
        if (!interrupted && /req_[0-9a-z]{26}: 1 file/.test(stdout)) {
          interrupted = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(run.code).toBe(130);
    const requestId = /req_[0-9a-z]{26}/.exec(run.stdout)?.[0];
    expect(run.stderr).toContain(`the jobs go on in the engine. Watch again: eft jobs watch ${requestId}`);
    const watched = await eft(['--json', 'jobs', 'watch', requestId ?? '', '--interval', '200']);
    expect(JSON.parse(watched.stdout)).toMatchObject({ jobCount: 1, succeeded: 1 });
  });

  it('creates, lists, changes and deletes routes, schedules and webhooks', async () => {
    const route = await eft([
      '--json',
      'routes',
      'create',
      '--name',
      'bucket to partner',
      '--source',
      'bucket-out:/reports',
      '--pattern',
      '*.csv',
      '--target',
      'partner-in:/reports',
    ]);
    expect(route.code).toBe(0);
    const routeId = JSON.parse(route.stdout).id;
    expect(JSON.parse(route.stdout)).toMatchObject({
      source: { path: 'reports', pattern: '*.csv' },
      target: { path: 'reports' },
    });
    const disabled = await eft(['--json', 'routes', 'update', routeId, '--disable', '--pattern', '*.txt']);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ enabled: false, source: { path: 'reports', pattern: '*.txt' } });
    expect((await eft(['routes', 'delete', routeId])).code).toBe(0);
    expect((await eft(['routes', 'get', routeId])).code).toBe(3);

    const schedule = await eft([
      '--json',
      'schedules',
      'create',
      '--name',
      'nightly pull',
      '--source',
      'partner-out:/nightly',
      '--target',
      'bucket-in:/nightly',
      '--cron',
      '0 6 * * 1-5',
      '--time-zone',
      'America/New_York',
      '--after',
      'move',
      '--archive',
      '/nightly-done',
    ]);
    expect(schedule.code).toBe(0);
    const created = JSON.parse(schedule.stdout);
    expect(created).toMatchObject({
      timing: { kind: 'cron', expression: '0 6 * * 1-5', timeZone: 'America/New_York' },
      afterTransfer: { action: 'MOVE', archivePath: 'nightly-done' },
    });
    const listed = await eft(['--json', 'schedules', 'list']);
    expect(JSON.parse(listed.stdout).items.map((s: { id: string }) => s.id)).toContain(created.id);
    expect((await eft(['schedules', 'delete', created.id])).code).toBe(0);

    const hook = await eft(['--json', 'webhooks', 'create', '--url', 'http://127.0.0.1:9/eft', '--events', 'FAILED']);
    expect(hook.code).toBe(0);
    const webhook = JSON.parse(hook.stdout);
    expect(webhook).toMatchObject({ events: ['FAILED'], secret: expect.any(String) });
    const hooks = await eft(['--json', 'webhooks', 'list']);
    expect(hooks.stdout).not.toContain(webhook.secret);
    expect((await eft(['webhooks', 'delete', webhook.id])).code).toBe(0);
  });

  it('exits 2 on a usage error and 3 on what does not exist', async () => {
    const usage = await eft(['--json', 'cp', 'partner-out:/daily/']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("missing required argument 'target'");
    expect(JSON.parse(usage.stdout)).toMatchObject({ error: { code: 'USAGE', exitCode: 2 } });
    const badFingerprint = await eft(['endpoints', 'validate', 'partner-out', '--fingerprint', 'MD5:aa']);
    expect(badFingerprint.code).toBe(2);

    const missing = await eft(['--json', 'jobs', 'get', `job_${'0'.repeat(26)}`]);
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'NOT_FOUND', exitCode: 3 } });
    const again = await eft(['endpoints', 'create', 's3', '--name', 'bucket-in', '--bucket', 'customer-a-inbox']);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('an endpoint named bucket-in exists already');
    const unnamed = await eft(['endpoints', 'get', 'no-such-endpoint']);
    expect(unnamed.code).toBe(3);
    expect(unnamed.stderr).toContain('eft endpoints list');
  });

  it('exits 4 when the local engine of local.json is not running, or does not know the credentials', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const info = JSON.parse(await readFile(join(stateDir, 'local.json'), 'utf8'));
    const stale = join(workDir, 'stale.json');
    await writeFile(stale, JSON.stringify({ ...info, apis: { 'us-gov-west-1': `http://127.0.0.1:${closedPort}` } }));
    const stopped = await eft(['endpoints', 'list'], { env: { EFT_LOCAL_STATE: stale } });
    expect(stopped.code).toBe(4);
    expect(stopped.stderr).toContain('the local engine is not running: npm start');

    const wrongKeys = join(workDir, 'wrong-keys.json');
    const customers = info.customers.map((c: { secretAccessKey: string }) => ({ ...c, secretAccessKey: 'not-the-key' }));
    await writeFile(wrongKeys, JSON.stringify({ ...info, customers }));
    const refused = await eft(['endpoints', 'list'], { env: { EFT_LOCAL_STATE: wrongKeys } });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('did not accept the credentials');
  });
});
