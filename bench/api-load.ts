/**
 * Load generator for POST /transfers, in its own process so its work does not
 * share an event loop with the engine's DynamoDB stand-in (which runs in the
 * bench process). `clients` loops send requests back to back, each signed
 * with SigV4 like any AWS SDK request, each creating one new job (an S3→S3
 * copy of its own small source object). A warm-up (not counted) loads the
 * handlers first.
 *
 * Argument: JSON LoadArgs. Output: one JSON line {"event":"done",…}.
 */
import { performance } from 'node:perf_hooks';
import { ApiClient, type Credentials } from '../local/api-client';

export interface LoadArgs {
  baseUrl: string;
  region: string;
  credentials: Credentials;
  sourceEndpointId: string;
  targetEndpointId: string;
  /** Source objects are `${sourcePrefix}${i}` for firstIndex <= i < firstIndex + warmup + requests. */
  sourcePrefix: string;
  firstIndex: number;
  targetPrefix: string;
  clients: number;
  requests: number;
  warmup: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as LoadArgs;
  const api = new ApiClient(args.baseUrl, args.region, args.credentials);
  const post = (i: number) =>
    api.post('/transfers', {
      source: { endpointId: args.sourceEndpointId, path: `${args.sourcePrefix}${i}` },
      target: { endpointId: args.targetEndpointId, path: `${args.targetPrefix}${i}` },
    });
  // Warm-up: the first requests load the handler modules and open connections.
  for (let i = args.firstIndex; i < args.firstIndex + args.warmup; i++) {
    const response = await post(i);
    if (response.status !== 201) throw new Error(`warm-up request ${i}: ${response.status} ${response.text}`);
  }
  let next = args.firstIndex + args.warmup;
  const end = next + args.requests;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const errors: string[] = [];
  const started = performance.now();
  const client = async () => {
    while (next < end) {
      const i = next++;
      const t0 = performance.now();
      try {
        const response = await post(i);
        latencies.push(performance.now() - t0);
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        if (response.status !== 201 && errors.length < 5) errors.push(`${response.status} ${response.text.slice(0, 200)}`);
      } catch (error) {
        statuses.network = (statuses.network ?? 0) + 1;
        if (errors.length < 5) errors.push((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: args.clients }, client));
  const elapsedMs = performance.now() - started;
  process.stdout.write(`${JSON.stringify({ event: 'done', latencies, statuses, errors, elapsedMs })}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`load failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
