/**
 * Job creation under load: concurrent customers' clients sending POST
 * /transfers to the local engine's us-gov-west-1 API, each request creating
 * one job. First one client alone (the service time), then `--clients`
 * (default 20; the target is measured there).
 *
 * The jobs are S3→S3 copies of 1-byte objects, so their executions run in the
 * region process (Lambda tasks, one CopyObject) and start no worker processes;
 * they do run alongside the requests, as they would in AWS, but here in the
 * same single-threaded region process, on the same 2 cores and against the
 * same DynamoDB stand-in (dynalite, in the bench process).
 */
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { REGIONS } from '../local/stack';
import type { LoadArgs } from './api-load';
import { type BenchContext, eventOf, failure } from './context';
import { CUSTOMER, type Engine } from './engine';
import { waitForQuiet } from './measure';
import { findChildren, machineBusyMs, readCmdline, runMeasured, totalCpuMs, treeCpuMs } from './proc';
import { bookkeepingOf } from './scenario-small';
import { log, percentile, requestsPer, round } from './util';

const WARMUP = 20;
const SOLO_REQUESTS = 100;
const SOURCE_BUCKET = 'customer-a-outbox';

export async function runApiLoad(ctx: BenchContext, engine: Engine): Promise<void> {
  const { clients, requests } = ctx.options;
  const created = await engine.api.post('/endpoints', {
    type: 'S3',
    name: 'bench load source',
    direction: 'OUTBOUND',
    s3: { bucket: SOURCE_BUCKET, prefix: 'load/', region: REGIONS.west },
  });
  if (created.status !== 201) throw new Error(`POST /endpoints: ${created.text}`);
  const sourceEndpointId = created.body.id as string;
  const validated = await engine.api.post(`/endpoints/${sourceEndpointId}/validate`);
  if (validated.body?.endpoint?.status !== 'ACTIVE') throw new Error(`the load source did not validate: ${validated.text}`);

  const runs =
    clients > 1
      ? [
          { clients: 1, requests: Math.min(SOLO_REQUESTS, requests) },
          { clients, requests },
        ]
      : [{ clients, requests }];
  const total = runs.reduce((sum, r) => sum + WARMUP + r.requests, 0);
  log(`job creation: putting ${total} source objects`);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < total) {
        const i = next++;
        await engine.s3.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: `load/obj-${i}`, Body: 'x' }));
      }
    }),
  );
  const customer = engine.stack.info.customers.find((c) => c.customerId === CUSTOMER);
  if (!customer) throw new Error('no demo customer');
  // Both regions' processes (their command lines say the role, not the region; east is idle here).
  const regionProcesses = findChildren(process.pid, 'region-process.ts');
  const roleCpu = (role: string) => () =>
    regionProcesses.filter((pid) => readCmdline(pid).endsWith(` ${role}`)).reduce((sum, pid) => sum + totalCpuMs(pid), 0);
  const apiCpu = roleCpu('api');
  const stepFunctionsCpu = roleCpu('step-functions');

  let firstIndex = 0;
  for (const run of runs) {
    const args: LoadArgs = {
      baseUrl: engine.stack.info.apis[REGIONS.west] ?? '',
      region: REGIONS.west,
      credentials: { accessKeyId: customer.accessKeyId, secretAccessKey: customer.secretAccessKey },
      sourceEndpointId,
      targetEndpointId: engine.s3EndpointId,
      sourcePrefix: 'obj-',
      firstIndex,
      targetPrefix: 'load-copies/obj-',
      clients: run.clients,
      requests: run.requests,
      warmup: WARMUP,
    };
    firstIndex += WARMUP + run.requests;
    log(`job creation: ${run.requests} requests from ${run.clients} concurrent client(s) (after ${WARMUP} warm-up requests)`);
    await waitForQuiet(ctx, `job creation load, ${run.clients} client(s)`);
    const machineBefore = machineBusyMs();
    const treeBefore = treeCpuMs(process.pid);
    const apiBefore = apiCpu();
    const stepFunctionsBefore = stepFunctionsCpu();
    const s3Before = totalCpuMs(engine.s3Pid);
    const benchBefore = process.cpuUsage();
    const requestsBefore = engine.stack.dynamoRequests();
    const outcome = await runMeasured({
      command: process.execPath,
      args: ['--import', 'tsx', join(__dirname, 'api-load.ts'), JSON.stringify(args)],
      env: { PATH: process.env.PATH ?? '' },
      cwd: join(__dirname, '..'),
      timeoutMs: Math.min(30 * 60_000, ctx.deadline - Date.now() - 5000),
      sampleMs: 1000,
    });
    const bench = process.cpuUsage(benchBefore);
    const requestsAfter = engine.stack.dynamoRequests();
    const apiCpuMs = apiCpu() - apiBefore;
    const stepFunctionsCpuMs = stepFunctionsCpu() - stepFunctionsBefore;
    const s3CpuMs = totalCpuMs(engine.s3Pid) - s3Before;
    const otherCpuMs = Math.max(0, machineBusyMs() - machineBefore - (treeCpuMs(process.pid) - treeBefore));
    if (outcome.exitCode !== 0) throw failure('the load generator', outcome);
    const done = eventOf<{ latencies: number[]; statuses: Record<string, number>; errors: string[]; elapsedMs: number }>(
      outcome.stdout,
      'done',
    );
    if (!done) throw new Error('the load generator printed no result');
    const ok = done.statuses['201'] ?? 0;
    const jobsPerSecond = ok / (done.elapsedMs / 1000);
    const perJob = (ms: number) => round(ms / Math.max(1, ok + WARMUP), 1);
    const requests = requestsPer(requestsBefore, requestsAfter, ok + WARMUP);
    ctx.measurements.push({
      scenario: 'job-creation',
      network: 'loopback',
      tool: 'eft',
      bytes: 0,
      round: 0,
      wallMs: round(done.elapsedMs, 0),
      mbps: round(jobsPerSecond, 1),
      cpuMs: round(outcome.cpuMs, 0),
      otherCpuMs: round(otherCpuMs, 0),
      peakRssMiB: round(outcome.peakRssKiB / 1024),
      hwmMiB: round(outcome.hwmKiB / 1024),
      verified: ok === run.requests ? 'count' : 'no',
      detail: {
        clients: run.clients,
        requests: run.requests,
        created: ok,
        statuses: done.statuses,
        errors: done.errors,
        jobsPerSecond: round(jobsPerSecond, 1),
        p50Ms: round(percentile(done.latencies, 50), 1),
        p90Ms: round(percentile(done.latencies, 90), 1),
        p99Ms: round(percentile(done.latencies, 99), 1),
        maxMs: round(Math.max(...done.latencies), 1),
        // DynamoDB requests per job (request and execution), counted like the CPU below.
        dynamoRequestsPerJob: requests,
        dynamoBookkeepingPerJob: bookkeepingOf(requests),
        // CPU per job (request and its execution), by process; the warm-up requests' executions overlap the run.
        cpuMsPerJob: {
          regionProcess: perJob(apiCpuMs + stepFunctionsCpuMs),
          // The region's two processes: the REST API (the request) and Step Functions (the job's execution).
          apiProcess: perJob(apiCpuMs),
          stepFunctionsProcess: perJob(stepFunctionsCpuMs),
          dynaliteAndBench: perJob((bench.user + bench.system) / 1000),
          s3Emulator: perJob(s3CpuMs),
          loadGenerator: perJob(outcome.cpuMs),
        },
        otherCores: round(otherCpuMs / done.elapsedMs, 2),
      },
    });
    log(
      `  ${ok}/${run.requests} created, ${round(jobsPerSecond, 1)} jobs/s, p50 ${round(percentile(done.latencies, 50), 1)} ms, p99 ${round(percentile(done.latencies, 99), 1)} ms; DynamoDB requests per job ${requests.total}, of them the jobs' bookkeeping ${bookkeepingOf(requests)}`,
    );
  }
}
