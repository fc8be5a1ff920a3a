/**
 * The progress display against the whole local engine: a folder from the partner's SFTP server to
 * S3, watched through GET /jobs?requestId= as `eft cp` watches it. The partner is reached through a
 * TCP proxy that holds the large file's connection once it has carried 2 MiB, until the display has
 * seen that file RUNNING with bytes done (an observed event, not a pause of some length); then the
 * replay of the same polls under a real pseudo-terminal (util-linux `script`) 50 columns wide.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { columns } from '../../cli/progress/format';
import type { Recording } from '../../cli/progress/replay';
import { type ProgressJob, watchJobs } from '../../cli/progress/watch';
import type { ApiClient } from '../../local/api-client';
import { activeEndpoint, partnerEndpoint, startTestEngine, type TestEngine } from '../support/local-engine';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

const MiB = 1024 * 1024;
const ROOT = join(__dirname, '..', '..');
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding escape sequences is the point
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

let engine: TestEngine;
let alice: ApiClient;
let proxy: TcpProxy;
let partner: string;
let inbox: string;
let scratch: string;

beforeAll(async () => {
  engine = await startTestEngine({ EFT_LOCAL_RETRY_INTERVAL_MS: '100' });
  alice = engine.alice.west;
  const info = engine.stack.info;
  proxy = await startTcpProxy({ host: info.partnerSftp.host, port: info.partnerSftp.port });
  await mkdir(join(info.partnerSftp.root, 'outbound'), { recursive: true });
  [partner, inbox] = await Promise.all([
    activeEndpoint(
      alice,
      await partnerEndpoint(info, { name: 'partner outbound', direction: 'OUTBOUND', basePath: '/outbound' }, proxy),
    ),
    activeEndpoint(alice, {
      type: 'S3',
      name: 'inbox',
      direction: 'INBOUND',
      s3: { bucket: 'customer-a-inbox', prefix: 'progress/', region: 'us-gov-west-1' },
    }),
  ]);
  scratch = await mkdtemp(join(tmpdir(), 'eft-progress-'));
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await engine?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** All pages of the request's jobs, as the CLI fetches them. */
async function requestJobs(requestId: string): Promise<ProgressJob[]> {
  const jobs: ProgressJob[] = [];
  let cursor: string | undefined;
  do {
    const query = new URLSearchParams({ requestId, limit: '100', ...(cursor ? { cursor } : {}) });
    const page = await alice.get(`/jobs?${query}`);
    if (page.status !== 200) throw new Error(`GET /jobs answered ${page.status}: ${page.text}`);
    jobs.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return jobs;
}

/** Runs `command` in a pseudo-terminal (util-linux script); resolves with all it wrote to the terminal. */
function inTerminal(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: Buffer[] = [];
    const errors: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => errors.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(output).toString())
        : reject(new Error(`script exited ${code}: ${Buffer.concat(errors).toString()}${Buffer.concat(output).toString()}`)),
    );
  });
}

describe('the progress display of a real transfer', () => {
  const recording: Recording = { polls: [] };
  // Each file's size, and how the display prints it.
  const files = new Map<string, [number, string]>([
    ['a.csv', [1200, '1.2 KiB']],
    ['b.csv', [3400, '3.3 KiB']],
    ['c.csv', [560, '560 B']],
    ['large.bin', [6 * MiB, '6.0 MiB']],
  ]);

  test('follows a folder from the partner to S3: the large file seen running, every file reported done', async () => {
    const dir = join(engine.stack.info.partnerSftp.root, 'outbound', 'daily');
    await mkdir(dir, { recursive: true });
    for (const [name, [size]] of files) await writeFile(join(dir, name), randomBytes(size));
    const held = proxy.holdAfter(2 * MiB);
    const created = await alice.post('/transfers', {
      source: { endpointId: partner, path: 'daily/' },
      target: { endpointId: inbox, path: 'daily' },
    });
    expect(created.status).toBe(201);
    expect(created.body.jobCount).toBe(files.size);

    let released = false;
    const startedAt = Date.now();
    const fetchJobs = async () => {
      const jobs = await requestJobs(created.body.requestId);
      recording.polls.push({ at: Date.now() - startedAt, jobs });
      // The display has seen the large file move: let the rest of it through.
      const large = jobs.find((job) => job.source.path === 'daily/large.bin');
      if (!released && large?.status === 'RUNNING' && large.bytesTransferred > 0) {
        await held;
        proxy.release();
        released = true;
      }
      return jobs;
    };
    const lines: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const final = await watchJobs({ fetchJobs, out, intervalMs: 100, summaryEveryMs: 0 });

    expect(released).toBe(true);
    expect(final.map((job) => job.status)).toEqual(final.map(() => 'SUCCEEDED'));
    expect(lines.join('\n')).not.toMatch(ANSI);
    expect(lines).toContainEqual(expect.stringMatching(/^\[\d\d:\d\d\] started {4}daily\/large\.bin \(6\.0 MiB\)$/));
    for (const [name, [, shown]] of files) {
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\[\\d\\d:\\d\\d\\] succeeded  daily/${name} ${shown}$`)));
    }
    // A summary while the large file was under way: some bytes, not all.
    expect(lines).toContainEqual(expect.stringMatching(/ progress {3}.* \(([1-9]|[1-9]\d)%\)/));
    expect(lines[lines.length - 1]).toMatch(
      / finished {3}6\.0 MiB \/ 6\.0 MiB \(100%\), .*files: 4\/4 done, 0 failed, 0 running, 0 queued$/,
    );
  }, 120_000);

  test('under a real pseudo-terminal 50 columns wide, the frames are redrawn in place and no line is wider', async () => {
    expect(recording.polls.length).toBeGreaterThan(1);
    const file = join(scratch, 'recording.json');
    await writeFile(file, JSON.stringify(recording));
    const quoted = (path: string) => `'${path.replaceAll("'", `'\\''`)}'`;
    const replay = `${quoted(process.execPath)} --import tsx cli/progress/replay.ts ${quoted(file)} --interval-ms 10`;
    const output = await inTerminal(`stty cols 50 rows 24; exec ${replay}`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the cursor movement is what is checked
    expect(output).toMatch(/\x1b\[\d+A\r\x1b\[J/);
    const visible = output.replace(ANSI, '').split(/\r?\n|\r/);
    for (const line of visible) expect(columns(line)).toBeLessThanOrEqual(50);
    expect(visible.filter((line) => /large\.bin/.test(line)).length).toBeGreaterThan(0);
    expect(visible.filter(Boolean).slice(-2)).toEqual([
      expect.stringMatching(/^Total .*100%/),
      expect.stringMatching(/^Files: 4\/4 done, 0 failed, 0 running, 0 queued/),
    ]);
  }, 60_000);
});
