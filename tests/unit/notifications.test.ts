// Customer notifications' pure parts: which changes a region announces (global tables: each region's
// stream also carries the other's writes), the webhook signature as a receiver verifies it, the
// backoff, and the SSRF guard of deliveries at connect time.
import { HttpWebhookSender } from '../../core/adapters/net/webhook-http';
import { deliveryIdFor, retryDelaySeconds } from '../../core/control-plane/notifications/deliveries';
import { changesToAnnounce } from '../../core/control-plane/notifications/job-events';
import { signatureHeader, verifySignature } from '../../core/control-plane/notifications/signature';
import type { JobStatus, TransferJob } from '../../core/domain/job';

const WEST = 'us-gov-west-1';
const EAST = 'us-gov-east-1';

function job(transitions: Array<[JobStatus, string]>): TransferJob {
  return {
    jobId: 'job_1',
    customerId: 'customer-a',
    status: transitions.at(-1)?.[0] ?? 'RECEIVED',
    transitions: transitions.map(([status, region], i) => ({ status, region, at: `2026-01-01T00:00:0${i}.000Z`, actor: 'x' })),
  } as unknown as TransferJob;
}

describe('changesToAnnounce', () => {
  it('announces each new transition once, in the region that wrote it', () => {
    const created = job([
      ['RECEIVED', WEST],
      ['QUEUED', WEST],
    ]);
    expect(changesToAnnounce(undefined, created, WEST).map((c) => c.status)).toEqual(['RECEIVED', 'QUEUED']);
    // The same write, replicated to east's stream: east announces nothing.
    expect(changesToAnnounce(undefined, created, EAST)).toEqual([]);
    const running = job([
      ['RECEIVED', WEST],
      ['QUEUED', WEST],
      ['RUNNING', EAST],
    ]);
    expect(changesToAnnounce(created, running, WEST)).toEqual([]);
    expect(changesToAnnounce(created, running, EAST).map((c) => c.status)).toEqual(['RUNNING']);
  });

  it('announces nothing for a write that changed no state (progress, checkpoints) or removed the item', () => {
    const running = job([
      ['RECEIVED', WEST],
      ['QUEUED', WEST],
      ['RUNNING', WEST],
    ]);
    expect(changesToAnnounce(running, { ...running, bytesTransferred: 10 }, WEST)).toEqual([]);
    expect(changesToAnnounce(running, undefined, WEST)).toEqual([]);
  });
});

describe('webhook signatures', () => {
  const secret = 'whsec_test';
  const body = '{"detail-type":"Job SUCCEEDED"}';

  it('verifies its own signature, and nothing changed in body, secret or time', () => {
    const header = signatureHeader(secret, body, 1_800_000_000);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature(secret, body, header, 1_800_000_010)).toBe(true);
    expect(verifySignature(secret, `${body} `, header, 1_800_000_010)).toBe(false);
    expect(verifySignature('whsec_other', body, header, 1_800_000_010)).toBe(false);
    expect(verifySignature(secret, body, header.replace('t=1800000000', 't=1800000001'), 1_800_000_010)).toBe(false);
    // A replay later than the tolerance is refused.
    expect(verifySignature(secret, body, header, 1_800_000_000 + 301)).toBe(false);
    expect(verifySignature(secret, body, 'v1=00', 1_800_000_000)).toBe(false);
  });
});

describe('deliveries', () => {
  it('backs off exponentially, at most 900 s (SQS delay)', () => {
    const policy = { maxAttempts: 6, baseDelaySeconds: 30 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelaySeconds(policy, n))).toEqual([30, 60, 120, 240, 480, 900]);
  });

  it('gives a change the same delivery id every time, ordered by the change time', () => {
    const a = deliveryIdFor('whk_1', 'job_1', 'SUCCEEDED', '2026-01-01T00:00:00.000Z');
    expect(deliveryIdFor('whk_1', 'job_1', 'SUCCEEDED', '2026-01-01T00:00:00.000Z')).toBe(a);
    expect(deliveryIdFor('whk_2', 'job_1', 'SUCCEEDED', '2026-01-01T00:00:00.000Z')).not.toBe(a);
    expect(deliveryIdFor('whk_1', 'job_2', 'SUCCEEDED', '2026-01-01T00:00:01.000Z') > a).toBe(true);
  });

  it('refuses, when connecting, a name that resolves to a forbidden address (no request is sent)', async () => {
    const sender = new HttpWebhookSender({
      networkPolicy: { allowedCidrs: [] },
      allowHttp: false,
      resolve: async () => [{ address: '169.254.169.254', family: 4 }],
    });
    const outcome = await sender.post('https://hooks.example.gov/eft', '{}', {});
    expect(outcome).toEqual({ error: expect.stringMatching(/169\.254\.169\.254|metadata|link-local/i) });
    expect(await sender.post('http://hooks.example.gov/eft', '{}', {})).toEqual({ error: 'the URL is not https://' });
  });
});
