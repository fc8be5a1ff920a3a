import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChildService } from '../../local/child-service';
import { childPids, isRunning, RegionControl, type RegionEndpoints } from '../../local/region-control';
import { PROJECT_ROOT } from '../../local/service-config';

// Real processes standing in for a region's three (the same readiness and IPC protocol as
// local/region-process.ts, without the engine): each serves HTTP on the port it is given, and the
// step-functions one runs a "worker" child, as it runs the Fargate worker.
const REGION_PROCESS = `
const http = require('node:http');
const { spawn } = require('node:child_process');
const role = process.argv[2];
const WORKER = "let n = 0; setInterval(() => { console.log('tick', ++n); require('node:fs').writeFileSync(process.env.TICKS_DIR + '/' + process.pid, String(n)); }, 20);";
const { ports = {} } = JSON.parse(process.env.EFT_CHILD_OPTIONS);
const listen = (port) => new Promise((resolve) => {
  const server = http.createServer((_, res) => res.end(role)).listen(port ?? 0, '127.0.0.1', () => resolve(server));
});
const url = (server) => 'http://127.0.0.1:' + server.address().port;
(async () => {
  if (role === 'events') {
    const [sqs, eventBridge] = [await listen(ports.sqs), await listen(ports.eventBridge)];
    process.on('message', (m) => m.type === 'start' && process.send({ type: 'started' }));
    console.log(JSON.stringify({ sqs: url(sqs), eventBridge: url(eventBridge) }));
  } else if (role === 'step-functions') {
    const server = await listen(ports.stepFunctions);
    // The worker logs to this process through a pipe, as the Fargate worker does, and counts its ticks in a file.
    const worker = spawn(process.execPath, ['--require', process.env.WORKER_OUTPUT, '-e', WORKER], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout.resume();
    worker.stderr.resume();
    console.log(JSON.stringify({ stepFunctions: url(server) }));
  } else {
    console.log(JSON.stringify({ api: url(await listen(ports.api)) }));
  }
  process.on('SIGTERM', () => process.exit(0));
})();
`;

let dir: string;
let control: RegionControl;
let started: RegionEndpoints[];
const REGION = 'us-gov-west-1';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eft-region-control-'));
  const script = join(dir, 'region.cjs');
  await writeFile(script, REGION_PROCESS);
  // What the stand-in processes read (they inherit this environment).
  process.env.WORKER_OUTPUT = join(PROJECT_ROOT, 'local', 'worker-output.cjs');
  process.env.TICKS_DIR = dir;
  started = [];
  control = new RegionControl({
    launch: (role, _regionFile, environment, ports) => startChildService(script, { environment, ports }, { args: [role] }),
    environment: () => ({}),
    eventsEnvironment: {},
    onStarted: (_region, _file, endpoints) => {
      started.push({ ...endpoints });
    },
  });
  await control.start(REGION, 'west');
});
afterEach(async () => {
  await control.close();
  await rm(dir, { recursive: true, force: true });
});

const answers = (url: string) => fetch(url).then((r) => r.text());
const alive = isRunning;

test('a region killed with SIGKILL stops answering, and restarts on the same addresses', async () => {
  const [first] = started as [RegionEndpoints];
  expect(await answers(first.api)).toBe('api');
  const report = await control.killRegion(REGION, 'SIGKILL');
  expect(report.killed).toEqual(expect.arrayContaining(['events', 'step-functions', 'api', 'worker']));
  await expect(answers(first.api)).rejects.toThrow();
  await expect(answers(first.stepFunctions)).rejects.toThrow();
  const again = await control.restartRegion(REGION);
  expect(again).toEqual(first);
  expect(await answers(first.api)).toBe('api');
  expect(await answers(first.sqs)).toBe('events');
});

test("by default the runner's workers die with it; with workers: 'orphan' they keep running and logging, parentless", async () => {
  const [worker] = await control.workerPids(REGION);
  expect(worker).toBeDefined();
  await control.killRegion(REGION, 'SIGKILL', { roles: ['step-functions'] });
  await waitUntil(() => !alive(worker as number));

  await control.restartRegion(REGION);
  const [next] = await control.workerPids(REGION);
  expect(next).toBeDefined();
  const report = await control.killRegion(REGION, 'SIGKILL', { roles: ['step-functions'], workers: 'orphan' });
  expect(report).toMatchObject({ killed: ['step-functions'], orphans: [next] });
  // It goes on working (and logging, into the dead runner's pipe) after its runner died.
  const ticks = async () => Number(await readFile(join(dir, String(next)), 'utf8').catch(() => '0'));
  const atKill = await ticks();
  while (alive(next as number) && (await ticks()) < atKill + 10) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await ticks()).toBeGreaterThanOrEqual(atKill + 10);
  expect(control.liveOrphans(REGION)).toEqual([next]);
  // The api and events processes were not touched.
  expect(await answers((started[0] as RegionEndpoints).api)).toBe('api');
  // Closing the stack ends orphans too: nothing outlives it.
  await control.close();
  await waitUntil(() => !alive(next as number));
});

test('SIGKILL of the workers alone leaves the runner running', async () => {
  const [worker] = await control.workerPids(REGION);
  const runner = (await childPids(process.pid)).length;
  const report = await control.killRegion(REGION, 'SIGKILL', { roles: ['worker'] });
  expect(report.killed).toEqual(['worker']);
  await waitUntil(() => !alive(worker as number));
  expect(await answers((started[0] as RegionEndpoints).stepFunctions)).toBe('step-functions');
  expect((await childPids(process.pid)).length).toBe(runner);
});

/** Polls a condition that a process's death makes true (the kernel reaps it on its own time). */
async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}
