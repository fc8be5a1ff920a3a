/**
 * Keeps the README's CLI quick start true: its ```sh block, taken from README.md by the same code
 * that records docs/cli-quickstart.cast (scripts/record-cli/quickstart.ts), runs as written in bash
 * against a local engine started in an empty state folder, with `y` on stdin for the host key
 * question (no terminal here: the progress display prints lines).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { ApiClient } from '../../local/api-client';
import { customerS3Client } from '../../local/s3';
import { REGIONS } from '../../local/stack';
import {
  type QuickStartEngine,
  quickStartBlock,
  quickStartScript,
  README_PATH,
  startQuickStartEngine,
  stepsOf,
} from '../../scripts/record-cli/quickstart';
import { readObject } from '../support/s3';

let engine: QuickStartEngine;
let s3: S3Client;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function objectSha256(bucket: string, key: string): Promise<string> {
  return sha256(await readObject(s3, bucket, key));
}

/** Runs the script in bash, `input` on its stdin; an async spawn, since the engine runs in this process. */
function bash(file: string, input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { EFT_ENDPOINT_URL: _url, EFT_LOCAL_STATE: _state, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [file], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

beforeAll(async () => {
  engine = await startQuickStartEngine();
  s3 = customerS3Client(engine.stack.info.s3.endpoint);
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await engine?.close();
});

test('the README quick start runs as written: endpoints onboarded, the folder copied intact, the watched request succeeded', async () => {
  const block = quickStartBlock(await readFile(README_PATH, 'utf8'));
  const commands = stepsOf(block).filter((step) => step.kind === 'command');
  const statusFile = join(engine.workDir, 'status');
  const scriptFile = join(engine.workDir, 'quickstart.sh');
  await writeFile(scriptFile, quickStartScript(block, { workDir: engine.workDir, statusFile }));

  const run = await bash(scriptFile, 'y\n');
  const context = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  expect({ code: run.code, context }).toEqual({ code: 0, context });
  // Every command ran and exited 0 (the script stops at the first that does not).
  const statuses = (await readFile(statusFile, 'utf8')).trim().split('\n');
  expect(statuses).toEqual(commands.map((_, i) => `${i} 0`));

  // The partner's files (the block made them) arrived intact, twice: by `cp` and by the detached copy.
  const source = join(engine.stateDir, 'data', 'sftp', 'outbound', 'daily');
  for (const i of [1, 2, 3]) {
    const expected = sha256(await readFile(join(source, `part-${i}.bin`)));
    expect(await objectSha256('customer-a-inbox', `in/daily/part-${i}.bin`)).toBe(expected);
    expect(await objectSha256('customer-a-inbox', `in/again/part-${i}.bin`)).toBe(expected);
  }

  // Two requests (the followed cp and the watched detached one), every job SUCCEEDED, and both said so.
  const customer = engine.stack.info.customers.find((c) => c.customerId === 'customer-a');
  if (!customer) throw new Error('no demo customer customer-a');
  const api = new ApiClient(engine.stack.info.apis[REGIONS.west] ?? '', REGIONS.west, customer);
  const jobs = (await api.get('/jobs?limit=100')).body.items as Array<{ requestId: string; status: string }>;
  const byRequest = new Map<string, string[]>();
  for (const job of jobs) byRequest.set(job.requestId, [...(byRequest.get(job.requestId) ?? []), job.status]);
  expect([...byRequest.values()]).toEqual([
    ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED'],
    ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED'],
  ]);
  const watched = run.stdout.slice(run.stdout.indexOf('$ npx eft jobs watch'));
  expect(watched).toContain('3 files: 3 succeeded, 0 failed, 0 cancelled; 8.6 MiB delivered');
}, 90_000);
