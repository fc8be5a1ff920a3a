import type { ApiClient } from './api-client';

const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/**
 * Follows a job through the API until it reaches a terminal state, as a
 * customer would. Polls (the API offers no push), bounded by a deadline.
 */
export async function awaitJob(client: ApiClient, jobId: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await client.get(`/jobs/${jobId}`);
    if (TERMINAL.includes(response.body?.status)) return response.body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${response.body?.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
