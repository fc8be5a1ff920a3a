/**
 * The container overrides the state machine gives each worker task: EFT_JOB
 * (which job) or EFT_BATCH_EXECUTION (the batch execution, whose input lists
 * the jobs), and EFT_LEASE (the lease token it runs under).
 * Refused loudly when malformed: the task cannot even record why it failed.
 */
import { ConfigurationError } from '../adapters/config';
import type { LeaseToken } from '../domain/lease';
import type { BatchInput, JobKey } from '../domain/ports';

function parseJson(name: string, text: string | undefined): Record<string, unknown> {
  if (!text) throw new ConfigurationError(`${name} is not set`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigurationError(`${name} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigurationError(`${name} is not a JSON object`);
  return value as Record<string, unknown>;
}

function text(name: string, object: Record<string, unknown>, field: string): string {
  const value = object[field];
  if (typeof value !== 'string' || value === '') throw new ConfigurationError(`${name}.${field} must be a non-empty string`);
  return value;
}

export function parseJob(raw: string | undefined): JobKey {
  const job = parseJson('EFT_JOB', raw);
  return { customerId: text('EFT_JOB', job, 'customerId'), jobId: text('EFT_JOB', job, 'jobId') };
}

export function parseLease(raw: string | undefined): LeaseToken {
  const lease = parseJson('EFT_LEASE', raw);
  const epoch = lease.epoch;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0)
    throw new ConfigurationError('EFT_LEASE.epoch must be an integer');
  return {
    partitionId: text('EFT_LEASE', lease, 'partitionId'),
    executionId: text('EFT_LEASE', lease, 'executionId'),
    region: text('EFT_LEASE', lease, 'region'),
    epoch,
  };
}

/** A batch execution's input: { customerId, batchId, jobIds: [...] }. */
export function parseBatch(raw: string): BatchInput {
  const batch = parseJson('the batch execution input', raw);
  const jobIds = batch.jobIds;
  if (!Array.isArray(jobIds) || !jobIds.every((id) => typeof id === 'string' && id !== ''))
    throw new ConfigurationError('the batch execution input has no jobIds list');
  return {
    customerId: text('the batch execution input', batch, 'customerId'),
    batchId: text('the batch execution input', batch, 'batchId'),
    jobIds: jobIds as string[],
  };
}
