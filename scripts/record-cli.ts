/**
 * `npm run record-cli`: records the README's CLI quick start in a real terminal and writes
 * docs/cli-quickstart.cast (asciicast v2, `asciinema play docs/cli-quickstart.cast`) and
 * docs/cli-quickstart.md (how to replay it, and the session as text).
 *
 * It starts a local engine in a fresh state folder, runs the README's ```sh block itself
 * (scripts/record-cli/quickstart.ts) in bash under util-linux `script` (a pseudo-terminal of
 * 100×30), answers `y` when the CLI asks to trust the partner's host key, as a person would,
 * and reaches the partner through a delay relay so that the progress bars are on screen for a
 * few seconds (on loopback, 9 MB would be gone before the first frame).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDelayRelay } from '../tests/support/delay-relay';
import { asciicast, castEvents } from './record-cli/cast';
import { quickStartMarkdown } from './record-cli/markdown';
import { PROJECT_ROOT, quickStartBlock, quickStartScript, README_PATH, startQuickStartEngine } from './record-cli/quickstart';

const COLS = 100;
const ROWS = 30;
/** Each byte waits this long each way, with at most RELAY_QUEUE bytes in flight: about 1.5 MiB/s per connection. */
const RELAY_ONE_WAY_MS = 40;
const RELAY_QUEUE = 64 * 1024;
const CAST = join(PROJECT_ROOT, 'docs', 'cli-quickstart.cast');
const MARKDOWN = join(PROJECT_ROOT, 'docs', 'cli-quickstart.md');

/** Runs `bash file` in a pseudo-terminal, typing `y` after a host key question; resolves with its exit code. */
function record(scriptFile: string, logOut: string, logTiming: string): Promise<number | null> {
  const { EFT_ENDPOINT_URL: _url, EFT_LOCAL_STATE: _state, ...env } = process.env;
  const child = spawn(
    'script',
    ['--quiet', '--flush', '--return', '--log-out', logOut, '--log-timing', logTiming, '--command', `bash ${scriptFile}`],
    { stdio: ['pipe', 'pipe', 'inherit'], env: { ...env, TERM: 'xterm-256color' } },
  );
  let seen = '';
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    seen += chunk.toString('utf8');
    if (seen.includes('[y/N] ')) {
      seen = '';
      // A reader's pause before the answer, so the question can be read in the recording.
      setTimeout(() => child.stdin.write('y\r'), 1500);
    } else seen = seen.slice(-16);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      child.stdin.end();
      resolve(code);
    });
  });
}

async function main(): Promise<void> {
  const block = quickStartBlock(await readFile(README_PATH, 'utf8'));
  const engine = await startQuickStartEngine();
  const scratch = await mkdtemp(join(tmpdir(), 'eft-record-'));
  let relay: Server | undefined;
  try {
    // The partner behind a slow link: local.json (what the block reads its port from) names the relay.
    const info = engine.stack.info;
    relay = await startDelayRelay({
      target: { host: info.partnerSftp.host, port: info.partnerSftp.port },
      oneWayMs: RELAY_ONE_WAY_MS,
      maxQueuedBytes: RELAY_QUEUE,
    });
    const relayPort = (relay.address() as AddressInfo).port;
    const localJson = join(engine.stateDir, 'local.json');
    const written = JSON.parse(await readFile(localJson, 'utf8'));
    written.partnerSftp.port = relayPort;
    await writeFile(localJson, JSON.stringify(written, null, 2), { mode: 0o600 });

    const scriptFile = join(scratch, 'quickstart.sh');
    await writeFile(scriptFile, quickStartScript(block, { workDir: engine.workDir, terminal: { cols: COLS, rows: ROWS } }));
    const logOut = join(scratch, 'out.log');
    const logTiming = join(scratch, 'timing.log');
    const started = Math.floor(Date.now() / 1000);
    const code = await record(scriptFile, logOut, logTiming);
    if (code !== 0) throw new Error(`the quick start failed in the recording (exit ${code})`);

    const events = castEvents(await readFile(logOut), await readFile(logTiming, 'utf8'));
    const title = 'eft CLI quick start (README.md)';
    await writeFile(CAST, asciicast(events, { width: COLS, height: ROWS, title, timestamp: started }));
    await writeFile(
      MARKDOWN,
      quickStartMarkdown(events, {
        cols: COLS,
        rows: ROWS,
        relay: { oneWayMs: RELAY_ONE_WAY_MS, queuedBytes: RELAY_QUEUE },
      }),
    );
    console.log(`\nrecord-cli: wrote ${CAST} (${events.length} events) and ${MARKDOWN}`);
  } finally {
    await engine.close();
    // Its connections ended with the engine; close() only stops it listening (process.exit follows).
    relay?.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error('record-cli:', error);
    process.exit(1);
  },
);
