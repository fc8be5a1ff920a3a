/**
 * The one gate every SFTP session of an endpoint passes (validation's probe,
 * the API's listing and stat, verification, the worker's connectors, and
 * whatever else goes through the SftpDriver): a session slot of the endpoint
 * (core/domain/session-slots.ts) first, then openSftp. The slot is released
 * when the session closes (or fails to open), and a slot lost while held
 * closes the session at once, so the partner never sees more sessions than
 * the endpoint's maxConcurrency (see session-slots.ts for the cross-region
 * caveat).
 */
import { hostname } from 'node:os';
import type { SessionSlots } from '../../domain/session-slots';
import type { SftpSession, SftpTarget } from './connect';
import type { SftpEndpoint } from './location';

export type OpenSftp = (target: SftpTarget) => Promise<SftpSession>;

/** How long to wait for a slot: a bound (API-facing: PartnerBusyError after it) or until the signal aborts. */
export interface SlotWait {
  waitMs?: number;
  signal?: AbortSignal;
  /** What the session is for, recorded with the slot (validate, list, stat, inspect, transfer). */
  purpose: string;
}

export type GatedOpen = (endpoint: SftpEndpoint, target: SftpTarget, wait: SlotWait) => Promise<SftpSession>;

const PROCESS = `${hostname()}:${process.pid}`;

export function sessionGate(open: OpenSftp, slots: SessionSlots, region: string): GatedOpen {
  return async (endpoint, target, wait) => {
    const slot = await slots.acquire({
      endpointId: endpoint.endpointId,
      limit: endpoint.maxConcurrency,
      holder: `${region} ${PROCESS} ${wait.purpose}`,
      ...(wait.waitMs !== undefined ? { waitMs: wait.waitMs } : {}),
      ...(wait.signal ? { signal: wait.signal } : {}),
    });
    let session: SftpSession;
    try {
      session = await open(target);
    } catch (err) {
      await slot.release();
      throw err;
    }
    // Once: the slot's loss and every file of a batch that drops the session may close it, all at once.
    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        await session.close();
        await slot.release();
      })();
      return closing;
    };
    // Taken over (expired unrenewed, or won by the other region): the connection goes now; whoever used it
    // sees a lost connection, retries, and waits for a slot again.
    slot.onLost(() => void close());
    return { ...session, close };
  };
}
