/**
 * `npm start`: runs the engine locally on its embedded stand-ins (no AWS account,
 * no Docker), shows it working, and keeps running until Ctrl-C.
 * `npm start -- --once` runs the walkthrough and stops; `--logs` also writes every
 * line the functions and workers print (Powertools JSON, EMF metrics) to stderr,
 * prefixed with their region.
 */
import { join } from 'node:path';
import { withCustomerJobEventsRule } from './customer-rule';
import { type LocalStack, startLocalStack } from './stack';
import { runWalkthrough } from './walkthrough';

async function main(): Promise<void> {
  const once = process.argv.includes('--once');
  const started = Date.now();
  // Schedules tick every second (not every minute), so the walkthrough sees them run; EFT_LOCAL_SCHEDULE_TICK_SECONDS overrides.
  const stack: LocalStack = await startLocalStack({
    echoLogs: process.argv.includes('--logs'),
    scheduleTickSeconds: Number(process.env.EFT_LOCAL_SCHEDULE_TICK_SECONDS ?? 1),
    // A customer's rule on the default bus, so the walkthrough can show the job events it gets.
    amendConfig: withCustomerJobEventsRule,
    // Webhook retries after 2 s, 4 s, … (not 30 s, 60 s, …), so a retry shows while you watch.
    functionEnvironment: { WEBHOOK_RETRY_BASE_SECONDS: '2' },
  });
  const { info } = stack;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await stack.close();
    console.log('eft local: stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  console.log(`eft local: started in ${Date.now() - started} ms`);
  console.log(`  DynamoDB (dynalite)     ${info.dynamodb.endpoint}   tables: ${Object.values(info.tables).join(', ')}`);
  console.log(`  S3 (s3rver)             ${info.s3.endpoint}`);
  for (const [region, r] of Object.entries(info.regions)) console.log(`    ${region} staging bucket: ${r.stagingBucket}`);
  console.log(`    customer buckets: ${info.customerBuckets.map((b) => `${b.name} (account ${b.owner})`).join(', ')}`);
  console.log(
    `  Partner SFTP (embedded) sftp://${info.partnerSftp.username}@${info.partnerSftp.host}:${info.partnerSftp.port}  host key ${info.partnerSftp.hostKeyFingerprint}`,
  );
  for (const [region, url] of Object.entries(info.apis))
    console.log(`  REST API ${region}  ${url}  (SigV4, service execute-api)`);
  for (const region of Object.keys(info.apis))
    console.log(`  SQS ${region}  ${info.sqs[region]}   EventBridge ${region}  ${info.eventBridge[region]}`);
  console.log(`  Addresses and credentials: ${join('.eft', 'local.json')}\n`);

  let ok = false;
  try {
    ok = await runWalkthrough(info);
  } catch (error) {
    console.error('eft local: walkthrough failed:', error);
  }
  if (!ok) console.error('eft local: the walkthrough did not complete every transfer intact');
  if (once) await stop(ok ? 0 : 1);
  else console.log('\neft local: running. Press Ctrl-C to stop.');
}

main().catch((error) => {
  console.error('eft local: failed to start:', error);
  process.exit(1);
});
