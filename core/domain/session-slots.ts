/**
 * Partner session limits (issue 14, design decision 4): an SFTP endpoint's
 * `maxConcurrency` is a counting semaphore of session slots shared by
 * everything in both regions that opens a session to the partner (workers,
 * validation, listing, statting, polling, verification).
 *
 * Slots: `limit` items per endpoint (`session#<endpointId>#<n>`, n < limit, in
 * the leases table), each free, or held by one session until `expiresAt`. A
 * slot is taken by a conditional write (free or expired), renewed by a
 * heartbeat while the session is open, released when it closes, and taken
 * over by anyone once it has expired: a crashed holder frees its slot within
 * the TTL (SlotTiming.ttlMs).
 *
 * What "in order" means: among those WAITING for a slot of one endpoint, the
 * one that started waiting first gets the next slot that frees. A waiter
 * draws a ticket (a counter on the endpoint's queue item) and only the lowest
 * live ticket (the queue's `head`) may take a slot; when it has one (or gives
 * up) it passes the head to the next ticket. How close to FIFO that gets:
 * - strict among waiters whose tickets come from one replica, as long as they
 *   keep polling; a waiter that vanished (crashed, gave up without passing)
 *   holds the line for `staleMs` at most, then the next live ticket takes over;
 * - a newcomer does not queue when nobody is waiting (no live head): it takes a
 *   free slot at once. Between a head taking its slot and the next ticket
 *   claiming the head (one poll, the `graceMs` handover) the line is kept: a
 *   newcomer sees a live head and draws a ticket behind it;
 * - tickets drawn in both regions within the replication lag may be equal:
 *   such waiters are served in either order;
 * - within one process nothing else orders waiters: each acquire is a waiter.
 *
 * Cross-region (DynamoDB global tables replicate asynchronously, last writer
 * wins, and conditional writes see only the local replica): the two regions
 * could take the same free slot within the replication lag. Handled by
 * detection, with collisions made rare:
 * - each region walks the slots from its own end (ascending in one, descending
 *   in the other: SlotOrder), so the regions only ever race for the LAST free
 *   slot, never while the partner has more than one free;
 * - every take writes a fresh token; the holder's first renewal comes
 *   `firstCheckMs` after the take (longer than the usual replication lag),
 *   then every `heartbeatMs`, each conditional on the token. Once the
 *   replicas have converged exactly one token is in the item: the other
 *   holder's renewal is refused and its session is closed at once (onLost).
 * So the partner may see limit + 1 sessions for up to the replication lag plus
 * `firstCheckMs` when both regions take the last free slot at the same
 * moment; never more, and never for longer. (Strictness would need every slot
 * write to go to one home replica, at the price of the peer region's
 * availability; not done.)
 *
 * A slot counts an SSH connection, however many SFTP channels it carries.
 * The limit is per endpoint: two endpoints on the same server have a limit each.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from './clock';
import { EftError } from './errors';

/** A slot could not be had within an API-facing operation's bound: 503 with Retry-After. */
export class PartnerBusyError extends EftError {
  readonly code = 'PARTNER_BUSY';
  constructor(
    readonly endpointId: string,
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super(
      `the partner of endpoint ${endpointId} has all its ${limit} session${limit === 1 ? '' : 's'} (maxConcurrency) in use; retry in ${retryAfterSeconds} s`,
    );
  }
}

/** The slot was taken over (it expired unrenewed, or the other region won it): its session must close now. */
export class SlotLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlotLostError';
  }
}

export interface SlotRequest {
  endpointId: string;
  /** The endpoint's maxConcurrency. */
  limit: number;
  /** Who holds it, for whoever reads the table (region, process, purpose). */
  holder: string;
  /** Gives up after this long with PartnerBusyError (API-facing); undefined: waits until `signal` aborts. */
  waitMs?: number;
  /** Stops waiting with the signal's reason. */
  signal?: AbortSignal;
}

export interface HeldSlot {
  readonly endpointId: string;
  readonly slot: number;
  /** Called once, if the slot is lost while held: close the session at once. */
  onLost(listener: (reason: SlotLostError) => void): void;
  /** Frees the slot; safe to call more than once, never throws. */
  release(): Promise<void>;
}

/** The port: acquire a slot of an endpoint before opening a session to its partner. */
export interface SessionSlots {
  acquire(request: SlotRequest): Promise<HeldSlot>;
}

/** What one take writes. */
export interface SlotClaim {
  endpointId: string;
  slot: number;
  /** Fresh per take: renewals and the release are conditional on it. */
  token: string;
  holder: string;
  region: string;
}

/** The endpoint's waiting line. */
export interface SlotQueue {
  /** Tickets drawn so far (the last one drawn). */
  issued: number;
  /** The lowest ticket still waiting, if any; only it may take a slot. */
  head?: number;
  /** When the head last said it is alive (ms). */
  headAt?: number;
  /** Releases so far: a waiter scans the slots again when it moves. */
  releases: number;
}

/** Storage of slots and the line (core/adapters/dynamodb/session-slots.ts). Times in ms since the epoch. */
export interface SessionSlotStore {
  /** Takes the slot if it is free or expired (expiresAt < now); false if someone holds it. */
  take(claim: SlotClaim, now: number, ttlMs: number): Promise<boolean>;
  /** Extends the slot if it is still this token's; false if not. */
  renew(endpointId: string, slot: number, token: string, now: number, ttlMs: number): Promise<boolean>;
  /** Frees the slot if it is still this token's, and counts a release on the line. */
  release(endpointId: string, slot: number, token: string, now: number): Promise<void>;
  queue(endpointId: string): Promise<SlotQueue>;
  /** Draws the next ticket. */
  ticket(endpointId: string): Promise<number>;
  /** Makes `ticket` the head (headAt = now) if there is none, it is stale (headAt < staleBefore), higher, or already this ticket. */
  claimHead(endpointId: string, ticket: number, now: number, staleBefore: number): Promise<boolean>;
  /** If `ticket` is the head: the next ticket is, with `headAt` (so it goes stale unless claimed soon). */
  passHead(endpointId: string, ticket: number, headAt: number): Promise<void>;
}

export interface SlotTiming {
  /** A slot not renewed for this long is free for anyone (a crashed holder). */
  ttlMs: number;
  /** Renewal period while held. */
  heartbeatMs: number;
  /** The first renewal after a take: detects a slot both regions took within the replication lag. */
  firstCheckMs: number;
  /** Polling while waiting: from pollMinMs, growing to pollMaxMs, jittered. */
  pollMinMs: number;
  pollMaxMs: number;
  /** A head silent for this long has left the line. */
  staleMs: number;
  /** The head scans the slots at least this often even without a release (expired holders). */
  rescanMs: number;
  /** What a PartnerBusyError tells the client to wait (Retry-After). */
  retryAfterSeconds: number;
}

export const DEFAULT_SLOT_TIMING: SlotTiming = {
  ttlMs: 60_000,
  heartbeatMs: 15_000,
  firstCheckMs: 3_000,
  pollMinMs: 50,
  pollMaxMs: 1_000,
  staleMs: 5_000,
  rescanMs: 3_000,
  retryAfterSeconds: 5,
};

/** The timing for a TTL, the rest in proportion (tests use short TTLs). */
export function slotTimingFor(ttlMs: number): SlotTiming {
  if (ttlMs === DEFAULT_SLOT_TIMING.ttlMs) return DEFAULT_SLOT_TIMING;
  return {
    ...DEFAULT_SLOT_TIMING,
    ttlMs,
    heartbeatMs: Math.max(1, Math.floor(ttlMs / 4)),
    firstCheckMs: Math.max(1, Math.min(DEFAULT_SLOT_TIMING.firstCheckMs, Math.floor(ttlMs / 4))),
    rescanMs: Math.max(10, Math.min(DEFAULT_SLOT_TIMING.rescanMs, Math.floor(ttlMs / 4))),
  };
}

/** The order a region walks the slots in: the two regions from opposite ends (see the module comment). */
export type SlotOrder = 'ascending' | 'descending';

/** Ascending in the region whose name sorts first, descending in the other: both derive it alike. */
export function slotOrderFor(region: string, peerRegion: string | undefined): SlotOrder {
  return peerRegion !== undefined && region > peerRegion ? 'descending' : 'ascending';
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch (err) {
    if (signal?.aborted) throw abortReason(signal);
    throw err;
  }
}

/** Session slots over a store (the domain's half: the line, backoff, heartbeats). */
export class SessionSlotPool implements SessionSlots {
  constructor(
    private readonly store: SessionSlotStore,
    private readonly clock: Clock,
    private readonly region: string,
    private readonly order: SlotOrder = 'ascending',
    private readonly timing: SlotTiming = DEFAULT_SLOT_TIMING,
  ) {}

  async acquire(request: SlotRequest): Promise<HeldSlot> {
    const { endpointId, signal } = request;
    const limit = Math.max(1, Math.floor(request.limit));
    const { staleMs, rescanMs, pollMinMs, pollMaxMs } = this.timing;
    const deadline = request.waitMs === undefined ? Number.POSITIVE_INFINITY : this.clock.now() + request.waitMs;
    const token = randomUUID();
    let ticket: number | undefined;
    let scannedAt = Number.NEGATIVE_INFINITY;
    let scannedReleases: number | undefined;
    let wait = pollMinMs;
    try {
      for (;;) {
        if (signal?.aborted) throw abortReason(signal);
        const now = this.clock.now();
        const line = await this.store.queue(endpointId);
        const headLive = line.head !== undefined && (line.headAt ?? 0) >= now - staleMs;
        let mayScan: boolean;
        if (ticket === undefined) {
          // Nobody waits: no line to respect.
          mayScan = !headLive;
        } else {
          let head = headLive && line.head === ticket;
          const mayClaim = !headLive || (line.head as number) > ticket || head;
          // The head says it is alive well within staleMs; others claim a stale, higher or missing head.
          if (mayClaim && (!head || (line.headAt ?? 0) < now - staleMs / 3)) {
            head = await this.store.claimHead(endpointId, ticket, now, now - staleMs);
          }
          mayScan = head && (scannedReleases !== line.releases || now - scannedAt >= rescanMs);
        }
        if (mayScan) {
          scannedAt = now;
          scannedReleases = line.releases;
          const slot = await this.scan(endpointId, limit, token, request.holder, now);
          if (slot !== undefined) {
            const held = new Held(this.store, this.clock, this.timing, endpointId, slot, token);
            if (ticket !== undefined) {
              const passing = ticket;
              ticket = undefined;
              await this.pass(endpointId, passing);
            }
            return held;
          }
          if (ticket === undefined) {
            ticket = await this.store.ticket(endpointId);
            continue;
          }
        } else if (ticket === undefined) {
          ticket = await this.store.ticket(endpointId);
          continue;
        }
        const left = deadline - this.clock.now();
        if (left <= 0) throw new PartnerBusyError(endpointId, limit, this.timing.retryAfterSeconds);
        await pause(Math.min(left, Math.round(wait * (0.5 + Math.random() / 2))), signal);
        wait = Math.min(pollMaxMs, Math.ceil(wait * 1.5));
      }
    } finally {
      // Leaving the line without a slot (gave up, stopped): the next ticket need not wait for us to go stale.
      if (ticket !== undefined) await this.pass(endpointId, ticket).catch(() => undefined);
    }
  }

  /** Hands the head to the next ticket, which must claim it within a few polls or lose it. */
  private pass(endpointId: string, ticket: number): Promise<void> {
    const graceMs = Math.min(this.timing.staleMs, 4 * this.timing.pollMaxMs);
    return this.store.passHead(endpointId, ticket, this.clock.now() - this.timing.staleMs + graceMs);
  }

  private async scan(endpointId: string, limit: number, token: string, holder: string, now: number) {
    for (let i = 0; i < limit; i++) {
      const slot = this.order === 'ascending' ? i : limit - 1 - i;
      const claim: SlotClaim = { endpointId, slot, token, holder, region: this.region };
      if (await this.store.take(claim, now, this.timing.ttlMs)) return slot;
    }
    return undefined;
  }
}

/** A slot while it is held: renewed on a timer, released once. */
class Held implements HeldSlot {
  private timer: NodeJS.Timeout | undefined;
  private lastRenewal: number;
  private lost: SlotLostError | undefined;
  private readonly listeners: ((reason: SlotLostError) => void)[] = [];
  private released: Promise<void> | undefined;

  constructor(
    private readonly store: SessionSlotStore,
    private readonly clock: Clock,
    private readonly timing: SlotTiming,
    readonly endpointId: string,
    readonly slot: number,
    private readonly token: string,
  ) {
    this.lastRenewal = clock.now();
    this.schedule(Math.min(timing.firstCheckMs, timing.heartbeatMs));
  }

  onLost(listener: (reason: SlotLostError) => void): void {
    if (this.lost) listener(this.lost);
    else this.listeners.push(listener);
  }

  release(): Promise<void> {
    this.released ??= (async () => {
      clearTimeout(this.timer);
      this.timer = undefined;
      if (this.lost) return;
      // A release that fails leaves the slot to expire: never an error for the closing session.
      await this.store.release(this.endpointId, this.slot, this.token, this.clock.now()).catch(() => undefined);
    })();
    return this.released;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => void this.beat(), ms);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    if (this.released || this.lost) return;
    const now = this.clock.now();
    let mine: boolean;
    try {
      mine = await this.store.renew(this.endpointId, this.slot, this.token, now, this.timing.ttlMs);
    } catch {
      // DynamoDB unreachable: keep trying, unless a whole TTL has gone by (anyone may have taken it since).
      const silentFor = this.clock.now() - this.lastRenewal;
      if (silentFor < this.timing.ttlMs) return this.schedule(this.timing.heartbeatMs);
      return this.lose(`session slot ${this.slot} of endpoint ${this.endpointId} was not renewed for ${silentFor} ms`);
    }
    if (this.released) return;
    if (!mine) {
      return this.lose(
        `session slot ${this.slot} of endpoint ${this.endpointId} was taken over (expired unrenewed, or taken in the other region at the same moment)`,
      );
    }
    this.lastRenewal = now;
    this.schedule(this.timing.heartbeatMs);
  }

  private lose(message: string): void {
    this.lost = new SlotLostError(message);
    for (const listener of this.listeners.splice(0)) listener(this.lost);
  }
}

/** No limits (tests and tools that open sessions outside the engine). */
export const UNLIMITED_SESSIONS: SessionSlots = {
  acquire: async (request) => ({ endpointId: request.endpointId, slot: -1, onLost: () => undefined, release: async () => {} }),
};
