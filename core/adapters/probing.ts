/**
 * What the probes of every kind share (endpoint validation, spec FR-5): the
 * outcome is data, never an exception, and its messages tell a person what to
 * fix without quoting secret material. A probe writes only files or objects
 * named PROBE_PREFIX + a random token, and removes them.
 */
import { randomBytes } from 'node:crypto';
import type { ProbeOutcome, ValidationReason } from '../domain/endpoint';

export const PROBE_CONTENT = Buffer.from('eft connectivity probe: safe to delete\n');
export const PROBE_PREFIX = '.eft-probe-';

export function probeToken(): string {
  return randomBytes(8).toString('hex');
}

export function failed(reason: ValidationReason, message: string, offeredHostKeyFingerprint?: string): ProbeOutcome {
  return { ok: false, reason, message, ...(offeredHostKeyFingerprint ? { offeredHostKeyFingerprint } : {}) };
}
