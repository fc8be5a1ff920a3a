// Runs s3rver in its own process. s3rver encrypts list continuation tokens with
// DES, which Node's OpenSSL 3 only offers with --openssl-legacy-provider; keeping
// it here means no other process of the engine or the tests needs that flag.
// Protocol: argv[2] is a JSON options object; prints one JSON line {port} when
// listening; forwards S3 events to the parent over IPC; exits on SIGTERM.
const S3rver = require('@20minutes/s3rver');

const options = JSON.parse(process.argv[2]);
const server = new S3rver({ ...options, silent: true, allowMismatchedSignatures: true, vhostBuckets: false });
server.on('event', (event) => process.send?.({ records: event.Records }));
server.run().then(
  (address) => process.stdout.write(`${JSON.stringify({ port: address.port })}\n`),
  (error) => {
    process.stderr.write(`s3rver failed to start: ${error.stack}\n`);
    process.exit(1);
  },
);
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
