/**
 * `npm run bench`: eft's throughput and memory side by side with OpenSSH sftp
 * and rclone, and a load test of job creation. The method is described in
 * docs/benchmarks.md; the command line in bench/options.ts.
 *
 * Everything runs on this machine: a private OpenSSH sshd and the local
 * engine's emulators on loopback, and for the latency run two network
 * namespaces the bench creates (and removes) itself. The whole run is bounded
 * by --timeout; every command by what is left of it.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startSshd } from '../tests/support/sshd';
import { buildBundles } from './bundles';
import { type NegotiatedCiphers, probeCiphers } from './ciphers';
import { type BenchContext, freeBytes, note, skip } from './context';
import { spawnDelayRelay } from './delay-relay';
import { type Engine, setEftDiagnostics, startEngine, stateDirOf } from './engine';
import { describeMachine } from './machine';
import { createLatencyNet, startNamespacedSshd } from './netns';
import { parseOptions, USAGE } from './options';
import { awsCopyCommand, hostPublicKeyOf, writeKnownHosts } from './peers';
import { findChildren, killActiveChildren, runMeasured, totalCpuMs } from './proc';
import { markdown, summarize, verdicts, writeDocs } from './report';
import { runApiLoad } from './scenario-api';
import { runS3Scenarios } from './scenario-s3';
import { runSftpLegs } from './scenario-sftp';
import { runSingleFile } from './scenario-single';
import { runSmallFiles } from './scenario-small';
import { runTriggers, TRIGGER_TICK_SECONDS, type TriggerResult } from './scenario-triggers';
import { formatBytes, log, round } from './util';

const ROOT = join(__dirname, '..');
const AWS_CLI = '/usr/bin/aws';

type Cleanup = () => Promise<void>;
const cleanups: Cleanup[] = [];

async function cleanUp(): Promise<void> {
  killActiveChildren();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
}

/** The AWS CLI, if it is installed (Debian's awscli) and can list a bucket of the emulator. */
async function workingAwsCli(ctx: BenchContext, engine: Engine): Promise<string | undefined> {
  try {
    await readFile(AWS_CLI);
  } catch {
    note(ctx, `aws s3 cp: skipped, ${AWS_CLI} is not installed (Debian package awscli)`);
    return undefined;
  }
  const ref = {
    endpoint: engine.stack.info.s3.endpoint,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    region: engine.stores.region,
  };
  const probe = awsCopyCommand(ctx.peer, AWS_CLI, ref, 's3://x/y', 's3://x/z', { thresholdBytes: 8 << 20, chunkBytes: 8 << 20 });
  const outcome = await runMeasured({
    command: AWS_CLI,
    args: ['s3api', 'list-objects-v2', '--bucket', 'customer-a-inbox', '--max-items', '1', '--endpoint-url', ref.endpoint],
    env: probe.env,
    timeoutMs: 60_000,
  });
  if (outcome.exitCode !== 0) {
    note(ctx, `aws s3 cp: skipped, the AWS CLI does not work against the emulator: ${outcome.stderr.trim().slice(0, 300)}`);
    return undefined;
  }
  return AWS_CLI;
}

async function latencyRun(ctx: BenchContext): Promise<void> {
  const { rttMs } = ctx.options;
  let net: Awaited<ReturnType<typeof createLatencyNet>>;
  try {
    net = await createLatencyNet(rttMs);
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    note(
      ctx,
      `latency run: tc netem is unavailable on this machine (${reason}; the kernel needs sch_netem, CONFIG_NET_SCH_NETEM, and has no loadable modules), so the ${rttMs} ms RTT comes from a userspace relay on loopback (bench/delay-relay.ts) that holds each direction's bytes for ${rttMs / 2} ms`,
    );
    return relayedLatencyRun(ctx);
  }
  cleanups.push(() => net.close());
  const sshd = await startNamespacedSshd(net, ctx.sshd.privateKeyPath, ctx.sshd.port);
  cleanups.push(() => sshd.stop());
  const network = rttMs > 0 ? `${rttMs} ms RTT (netem)` : 'veth, no netem';
  log(`latency run: ${network}, sshd at ${sshd.host}:${sshd.port} in ${net.serverNs}, clients in ${net.clientNs}`);
  try {
    await runSftpLegs(ctx, {
      network,
      server: { ...ctx.server, host: sshd.host, knownHostsPath: await knownHostsFor(ctx, sshd.host, sshd.port) },
      hostKeyFingerprint: ctx.sshd.hostKeyFingerprint,
      sshdPid: sshd.pid,
      prefix: net.clientPrefix,
      allowedCidrs: [net.subnet],
    });
  } finally {
    await sshd.stop();
    await net.close();
  }
}

/** The latency run through bench/delay-relay.ts in front of the loopback sshd. */
async function relayedLatencyRun(ctx: BenchContext): Promise<void> {
  const { rttMs } = ctx.options;
  const relay = await spawnDelayRelay(ctx.bundles.delayRelay, {
    target: { host: ctx.sshd.host, port: ctx.sshd.port },
    oneWayMs: rttMs / 2,
  });
  cleanups.push(() => relay.stop());
  const network = `${rttMs} ms RTT (relay)`;
  log(`latency run: ${network}, relay at ${relay.host}:${relay.port} (pid ${relay.pid}) in front of sshd`);
  const relayCpuBefore = totalCpuMs(relay.pid);
  try {
    await runSftpLegs(ctx, {
      network,
      server: { ...ctx.server, port: relay.port, knownHostsPath: await knownHostsFor(ctx, relay.host, relay.port) },
      hostKeyFingerprint: ctx.sshd.hostKeyFingerprint,
      sshdPid: ctx.sshdPid,
      prefix: [],
      allowedCidrs: ['127.0.0.0/8'],
    });
    const carried = ctx.measurements.filter((m) => m.network === network).reduce((sum, m) => sum + m.bytes, 0);
    const cpuSeconds = (totalCpuMs(relay.pid) - relayCpuBefore) / 1000;
    note(ctx, `the relay used ${round(cpuSeconds / (carried / 1e9), 2)} s of CPU per GB it carried (counted in no tool's CPU)`);
  } finally {
    await relay.stop();
  }
}

/** A known_hosts file (in workDir) naming the bench's sshd host key at host:port. */
async function knownHostsFor(
  { workDir, sshd }: Pick<BenchContext, 'workDir' | 'sshd'>,
  host: string,
  port: number,
): Promise<string> {
  const path = join(workDir, `known_hosts_${host}_${port}`);
  writeKnownHosts(path, host, port, await hostPublicKeyOf(sshd));
  return path;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  setEftDiagnostics(options);
  const timer = setTimeout(() => {
    log(`global timeout of ${options.timeoutMs / 60_000} min reached: stopping`);
    cleanUp().finally(() => process.exit(2));
  }, options.timeoutMs);
  timer.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      cleanUp().finally(() => process.exit(130));
    });
  }

  const workDir = await mkdtemp(join(tmpdir(), 'eft-bench-'));
  cleanups.push(() => rm(workDir, { recursive: true, force: true }));
  log(
    `work directory ${workDir} (${formatBytes(freeBytes(workDir))} free); sizes ${options.sizes.map(formatBytes).join(', ')} (S3 legs ${options.s3Sizes.map(formatBytes).join(', ')}); ${options.rounds} round(s)`,
  );
  const bundles = await buildBundles(join(workDir, 'bundles'));
  const remoteDir = join(workDir, 'sftp');
  await mkdir(remoteDir, { recursive: true });
  const sshd = await startSshd({ dataDir: remoteDir });
  cleanups.push(() => sshd.stop());
  const sshdDir = dirname(sshd.privateKeyPath);
  const sshdPid = findChildren(process.pid, join(sshdDir, 'sshd_config'))[0];
  if (!sshdPid) throw new Error('cannot find the sshd process');
  const knownHostsPath = await knownHostsFor({ workDir, sshd }, sshd.host, sshd.port);
  const ctx: BenchContext = {
    options,
    workDir,
    bundles,
    sshd,
    sshdPid,
    server: { host: sshd.host, port: sshd.port, username: sshd.username, privateKeyPath: sshd.privateKeyPath, knownHostsPath },
    peer: { workDir, cipher: options.cipher, s3ChunkSize: '16M', s3UploadConcurrency: 4 },
    remoteDir,
    measurements: [],
    notes: [],
    skipped: [],
    deadline: Date.now() + options.timeoutMs,
  };
  const failures: string[] = [];
  const attempt = async (what: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (error) {
      const message = `${what} failed: ${(error as Error).message}`;
      failures.push(message);
      log(message);
    }
  };

  let ciphers: NegotiatedCiphers = {};
  await attempt('cipher probe', async () => {
    ciphers = await probeCiphers(ctx);
    log(`ciphers: ${JSON.stringify(ciphers)}`);
  });

  if (options.only.has('sftp')) {
    await attempt('SFTP legs (loopback)', () =>
      runSftpLegs(ctx, {
        network: 'loopback',
        server: ctx.server,
        hostKeyFingerprint: sshd.hostKeyFingerprint,
        sshdPid,
        prefix: [],
        allowedCidrs: ['127.0.0.0/8'],
      }),
    );
    if (options.latency) await attempt('SFTP legs (latency)', () => latencyRun(ctx));
    else skip(ctx, 'latency run: --no-latency');
  }

  let aws: string | undefined;
  let triggers: TriggerResult[] = [];
  /** Starts the local engine (closed at the end of the run if the caller has not closed it). */
  const engineAt = async (stateDir: string, engineOptions: Parameters<typeof startEngine>[3]): Promise<Engine | undefined> => {
    let engine: Engine | undefined;
    await attempt('starting the local engine', async () => {
      const started = await startEngine(stateDir, sshd, remoteDir, engineOptions);
      let closing: Promise<void> | undefined;
      const close = () => {
        closing ??= started.close();
        return closing;
      };
      engine = { ...started, close };
      cleanups.push(close);
    });
    return engine;
  };
  if (['s3', 'copy', 'emulator', 'single', 'small', 'api'].some((s) => options.only.has(s as never))) {
    log('starting the local engine');
    const e = await engineAt(stateDirOf(workDir), {});
    if (e) {
      if (options.only.has('copy')) aws = await workingAwsCli(ctx, e);
      if (options.only.has('s3') || options.only.has('copy') || options.only.has('emulator')) {
        await attempt('S3 legs', () =>
          runS3Scenarios(ctx, e, {
            legs: options.only.has('s3'),
            copy: options.only.has('copy'),
            emulator: options.only.has('emulator'),
            ...(aws ? { aws } : {}),
          }),
        );
      }
      if (options.only.has('single')) await attempt('one small file', () => runSingleFile(ctx, e));
      if (options.only.has('api')) await attempt('job creation load', () => runApiLoad(ctx, e));
      // Last: jobs still running when its budget ends must not load the engine under another scenario.
      if (options.only.has('small')) await attempt('small files', () => runSmallFiles(ctx, e));
      await e.close();
    }
  }
  if (options.only.has('triggers')) {
    // An engine of its own: schedules tick every second here, the reconciler's too, which would add its
    // reads of every waiting job to the other scenarios' counts and CPU.
    log('starting a local engine for the triggers, schedules ticking every second');
    const e = await engineAt(join(workDir, 'engine-triggers'), { scheduleTickSeconds: TRIGGER_TICK_SECONDS });
    if (e) {
      await attempt('triggers', async () => {
        triggers = await runTriggers(ctx, e);
      });
      await e.close();
    }
  }

  // Report.
  const machine = await describeMachine(aws);
  const rows = summarize(ctx.measurements);
  const checks = verdicts(rows, ctx.measurements);
  for (const f of failures) ctx.skipped.push(f);
  const command = `npm run bench${options.argv.length > 0 ? ` -- ${options.argv.join(' ')}` : ''}`;
  const text = markdown(rows, ctx.measurements, checks, {
    machine,
    ciphers,
    rounds: options.rounds,
    notes: ctx.notes,
    skipped: ctx.skipped,
    startedAt,
    command,
    triggers,
  });
  process.stdout.write(`\n${text}`);
  const resultsDir = join(ROOT, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  const resultsFile = join(resultsDir, `bench-${startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(
    resultsFile,
    `${JSON.stringify(
      {
        startedAt,
        finishedAt: new Date().toISOString(),
        command,
        options: { ...options, only: [...options.only] },
        machine,
        ciphers,
        summary: rows,
        targets: checks,
        measurements: ctx.measurements,
        triggers,
        notes: ctx.notes,
        skipped: ctx.skipped,
      },
      null,
      2,
    )}\n`,
  );
  log(`results: ${resultsFile}`);
  if (options.docs) {
    writeDocs(join(ROOT, 'docs', 'benchmarks.md'), text);
    log('docs/benchmarks.md updated');
  }
  clearTimeout(timer);
  return failures.length > 0 ? 1 : 0;
}

main()
  .then(async (code) => {
    await cleanUp();
    process.exit(code);
  })
  .catch(async (error: unknown) => {
    const message = (error as Error)?.message ?? String(error);
    process.stderr.write(message === 'usage' ? `${USAGE}\n` : `bench failed: ${(error as Error)?.stack ?? message}\n`);
    await cleanUp();
    process.exit(1);
  });
