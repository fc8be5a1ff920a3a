import type { Actor } from '../../domain/actor';
import type { Clock } from '../../domain/clock';
import type { Drivers } from '../../domain/drivers';
import type { Endpoint } from '../../domain/endpoint';
import { type FieldIssue, NotFoundError, ValidationError } from '../../domain/errors';
import { newRouteId, newScheduleId } from '../../domain/ids';
import type { Location } from '../../domain/location';
import { resolveLocation } from '../../domain/locations';
import { bothInOrder } from '../../domain/parallel';
import type {
  EndpointStore,
  Page,
  PageRequest,
  RouteChanges,
  RouteStore,
  ScheduleChanges,
  ScheduleStore,
} from '../../domain/ports';
import type { Route, Schedule, ScheduleTiming } from '../../domain/triggers';
import { nextRunAfter, timingProblems } from './schedule-timing';
import type { CreateRouteRequest, CreateScheduleRequest, UpdateRouteRequest, UpdateScheduleRequest } from './schemas';
import { type RouteView, type ScheduleView, toRouteView, toScheduleView } from './view';

export interface TriggerDeps {
  routes: RouteStore;
  schedules: ScheduleStore;
  endpoints: EndpointStore;
  drivers: Drivers;
  clock: Clock;
  /** SCHEDULE_MIN_RATE_SECONDS: the shortest rate a schedule may have. */
  minRateSeconds: number;
}

/** The driver kinds (ControlPlaneDriver.kind) each trigger's source must be of: routes are pushed by S3 events, schedules poll SFTP. */
const ROUTE_SOURCE_KIND = 'S3';
const SCHEDULE_SOURCE_KIND = 'SFTP';

/**
 * The longest file name a trigger can deliver, in UTF-8 bytes: SFTP servers'
 * and most file systems' limit on one name. A pattern that needs a longer name
 * can never match a file the engine could deliver.
 */
const MAX_NAME_BYTES = 255;

const refuse = (field: string, message: string) => new ValidationError([{ field, message }]);

/**
 * An endpoint a route or schedule may name in `role`: the caller's own (any
 * other, or none, is a 400 naming the field: a route is a body, and the field
 * is what is wrong with it), not DISABLED, of a direction that allows the role
 * and, for a source, of the kind the trigger reads. Its status may be PENDING:
 * the trigger starts nothing through it until it is ACTIVE.
 */
async function namedEndpoint(
  deps: TriggerDeps,
  actor: Actor,
  endpointId: string,
  role: 'source' | 'target',
  kind?: { kind: string; of: string },
): Promise<Endpoint> {
  const field = `${role}.endpointId`;
  const endpoint = await deps.endpoints.get(actor.customerId, endpointId);
  // Another customer's endpoint is indistinguishable from a missing one.
  if (!endpoint) throw refuse(field, `is not an endpoint of yours (no endpoint ${endpointId})`);
  if (endpoint.status === 'DISABLED') throw refuse(field, `is DISABLED (deleted); name an endpoint in use`);
  const allowed = role === 'source' ? ['OUTBOUND', 'BOTH'] : ['INBOUND', 'BOTH'];
  if (!allowed.includes(endpoint.direction)) {
    throw refuse(field, `endpoint direction ${endpoint.direction} does not allow it as a ${role}`);
  }
  if (kind && deps.drivers.driverFor(endpoint).kind !== kind.kind) {
    throw refuse(field, `must be an ${kind.kind} endpoint: ${kind.of}`);
  }
  return endpoint;
}

/** Where a folder of the trigger lands on the endpoint ("" is the endpoint's prefix or base path itself). */
function locate(deps: TriggerDeps, endpoint: Endpoint, folder: string, field: string): Location {
  return folder === ''
    ? deps.drivers.driverFor(endpoint).resolve(endpoint, '')
    : resolveLocation(deps.drivers, endpoint, folder, field);
}

/** A pattern needs at least one character per character that is not `*`. */
function refuseUnmatchablePattern(pattern: string | undefined): void {
  if (pattern === undefined) return;
  const shortest = Buffer.byteLength(pattern.replaceAll('*', ''), 'utf8');
  if (shortest > MAX_NAME_BYTES) {
    throw refuse(
      'source.pattern',
      `can never match: it needs a name of at least ${shortest} bytes, and a file name has at most ${MAX_NAME_BYTES}`,
    );
  }
}

function samePlace(a: Endpoint, from: Location, b: Endpoint, to: Location, drivers: Drivers): boolean {
  const driver = drivers.driverFor(a);
  return driver === drivers.driverFor(b) && driver.samePlace(a, from, b, to);
}

/** Whether `inner` is a place under the folder `outer` of the same driver (compared as the driver spells locations). */
function isUnder(outer: Location, inner: Location): boolean {
  const folder = outer.uri.replace(/\/+$/, '');
  return outer.kind === inner.kind && inner.uri.startsWith(`${folder}/`);
}

type RouteDraft = Pick<Route, 'source' | 'target'>;

/**
 * Everything about a route's endpoints and paths the schema cannot know; the
 * bucket its S3 events come from. A route whose target is where its own
 * deliveries would trigger it again (its source folder, or, with
 * includeSubfolders, anywhere under it; compared as resolved locations, so
 * two endpoints on the same bucket count) would deliver forever: refused.
 */
async function checkRoute(deps: TriggerDeps, actor: Actor, route: RouteDraft): Promise<{ sourceBucket: string }> {
  const [source, target] = await bothInOrder(
    namedEndpoint(deps, actor, route.source.endpointId, 'source', {
      kind: ROUTE_SOURCE_KIND,
      of: 'a route delivers objects created in an S3 bucket (schedules poll SFTP servers)',
    }),
    namedEndpoint(deps, actor, route.target.endpointId, 'target'),
  );
  refuseUnmatchablePattern(route.source.pattern);
  const from = locate(deps, source, route.source.path, 'source.path');
  const to = locate(deps, target, route.target.path, 'target.path');
  if (samePlace(source, from, target, to, deps.drivers) || (route.source.includeSubfolders && isUnder(from, to))) {
    throw refuse(
      'target.path',
      'is inside the route’s own source folder: every delivery would trigger the route again; deliver somewhere else',
    );
  }
  if (!('s3' in source)) throw refuse('source.endpointId', 'is not an S3 endpoint');
  return { sourceBucket: source.s3.bucket };
}

type ScheduleDraft = Pick<Schedule, 'source' | 'target' | 'afterTransfer'>;

/**
 * The endpoints and paths of a schedule: a target in the polled folder itself
 * would be polled again (a new file each time: delivered forever), and an
 * archive folder that is the polled folder would be polled again too.
 */
async function checkSchedule(deps: TriggerDeps, actor: Actor, schedule: ScheduleDraft): Promise<void> {
  const [source, target] = await bothInOrder(
    namedEndpoint(deps, actor, schedule.source.endpointId, 'source', {
      kind: SCHEDULE_SOURCE_KIND,
      of: 'a schedule polls a partner’s SFTP folder (routes deliver objects created in S3)',
    }),
    namedEndpoint(deps, actor, schedule.target.endpointId, 'target'),
  );
  refuseUnmatchablePattern(schedule.source.pattern);
  const from = locate(deps, source, schedule.source.path, 'source.path');
  const to = locate(deps, target, schedule.target.path, 'target.path');
  if (samePlace(source, from, target, to, deps.drivers)) {
    throw refuse('target.path', 'is the polled folder itself: every delivered file would be pulled again');
  }
  if (schedule.afterTransfer.action === 'MOVE') {
    const archive = locate(deps, source, schedule.afterTransfer.archivePath, 'afterTransfer.archivePath');
    if (samePlace(source, from, source, archive, deps.drivers)) {
      throw refuse('afterTransfer.archivePath', 'is the polled folder itself: archived files would be pulled again');
    }
  }
}

function checkTiming(deps: TriggerDeps, timing: ScheduleTiming): void {
  const problems: FieldIssue[] = timingProblems(timing, deps.minRateSeconds);
  if (problems.length) throw new ValidationError(problems);
}

/** When a schedule is first due: a rate at once, a cron at its next time. */
function firstRunAt(deps: TriggerDeps, timing: ScheduleTiming): string {
  const now = new Date(deps.clock.now());
  if (timing.kind === 'rate') return now.toISOString();
  const next = nextRunAfter(timing, now);
  if (!next) throw refuse('timing.expression', 'never fires (no date matches it)');
  return next.toISOString();
}

/** What an update is called in the audit trail: switching on or off, or any other change. */
function actionOf(noun: 'route' | 'schedule', patch: { enabled?: boolean }): string {
  const others = Object.entries(patch).filter(([field, value]) => field !== 'enabled' && value !== undefined);
  if (patch.enabled !== undefined && others.length === 0) return `${noun}.${patch.enabled ? 'enabled' : 'disabled'}`;
  return `${noun}.updated`;
}

/** The fields a patch gives (those absent stay as they are). */
function given<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<T>;
}

// Routes

async function loadRoute(deps: TriggerDeps, actor: Actor, routeId: string): Promise<Route> {
  const route = await deps.routes.get(actor.customerId, routeId);
  // Another customer's route is indistinguishable from a missing one.
  if (!route) throw new NotFoundError(`route ${routeId} not found`);
  return route;
}

export async function createRoute(deps: TriggerDeps, actor: Actor, request: CreateRouteRequest): Promise<RouteView> {
  const { sourceBucket } = await checkRoute(deps, actor, request);
  const route = await deps.routes.create(
    {
      routeId: newRouteId(deps.clock.now()),
      customerId: actor.customerId,
      name: request.name,
      enabled: request.enabled,
      source: request.source,
      target: request.target,
      sourceBucket,
    },
    actor.principalArn,
  );
  return toRouteView(route);
}

export async function getRoute(deps: TriggerDeps, actor: Actor, routeId: string): Promise<RouteView> {
  return toRouteView(await loadRoute(deps, actor, routeId));
}

export async function listRoutes(deps: TriggerDeps, actor: Actor, page: PageRequest): Promise<Page<RouteView>> {
  const result = await deps.routes.list(actor.customerId, page);
  return { ...result, items: result.items.map(toRouteView) };
}

/** PATCH: each field given replaces the current one; a new source or target is checked like a new route. */
export async function updateRoute(
  deps: TriggerDeps,
  actor: Actor,
  routeId: string,
  patch: UpdateRouteRequest,
): Promise<RouteView> {
  const current = await loadRoute(deps, actor, routeId);
  const changes: RouteChanges = given(patch);
  if (patch.source || patch.target) {
    const { sourceBucket } = await checkRoute(deps, actor, { ...current, ...changes });
    if (sourceBucket !== current.sourceBucket) changes.sourceBucket = sourceBucket;
  }
  const updated = await deps.routes.update(
    actor.customerId,
    routeId,
    current.version,
    changes,
    actor.principalArn,
    actionOf('route', patch),
  );
  return toRouteView(updated);
}

/** DELETE: the route is gone (its audit trail stays); objects created from now on start nothing. */
export async function deleteRoute(deps: TriggerDeps, actor: Actor, routeId: string): Promise<RouteView> {
  const current = await loadRoute(deps, actor, routeId);
  await deps.routes.delete(actor.customerId, routeId, actor.principalArn);
  return toRouteView(current);
}

// Schedules

async function loadSchedule(deps: TriggerDeps, actor: Actor, scheduleId: string): Promise<Schedule> {
  const schedule = await deps.schedules.get(actor.customerId, scheduleId);
  if (!schedule) throw new NotFoundError(`schedule ${scheduleId} not found`);
  return schedule;
}

export async function createSchedule(deps: TriggerDeps, actor: Actor, request: CreateScheduleRequest): Promise<ScheduleView> {
  checkTiming(deps, request.timing);
  await checkSchedule(deps, actor, request);
  const schedule = await deps.schedules.create(
    {
      scheduleId: newScheduleId(deps.clock.now()),
      customerId: actor.customerId,
      name: request.name,
      enabled: request.enabled,
      source: request.source,
      target: request.target,
      timing: request.timing,
      minimumFileAgeSeconds: request.minimumFileAgeSeconds,
      afterTransfer: request.afterTransfer,
      nextRunAt: firstRunAt(deps, request.timing),
    },
    actor.principalArn,
  );
  return toScheduleView(schedule);
}

export async function getSchedule(deps: TriggerDeps, actor: Actor, scheduleId: string): Promise<ScheduleView> {
  return toScheduleView(await loadSchedule(deps, actor, scheduleId));
}

export async function listSchedules(deps: TriggerDeps, actor: Actor, page: PageRequest): Promise<Page<ScheduleView>> {
  const result = await deps.schedules.list(actor.customerId, page);
  return { ...result, items: result.items.map(toScheduleView) };
}

/**
 * PATCH: each field given replaces the current one. A new timing, or enabling
 * a disabled schedule, sets when it is next due as a new schedule's (a rate at
 * once, a cron at its next time; runs missed while disabled are not made up).
 */
export async function updateSchedule(
  deps: TriggerDeps,
  actor: Actor,
  scheduleId: string,
  patch: UpdateScheduleRequest,
): Promise<ScheduleView> {
  const current = await loadSchedule(deps, actor, scheduleId);
  const changes: ScheduleChanges = given(patch);
  const merged = { ...current, ...changes };
  if (patch.timing) checkTiming(deps, patch.timing);
  if (patch.source || patch.target || patch.afterTransfer) await checkSchedule(deps, actor, merged);
  if (patch.timing || (patch.enabled === true && !current.enabled)) changes.nextRunAt = firstRunAt(deps, merged.timing);
  const updated = await deps.schedules.update(
    actor.customerId,
    scheduleId,
    current.version,
    changes,
    actor.principalArn,
    actionOf('schedule', patch),
  );
  return toScheduleView(updated);
}

/** DELETE: the schedule is gone (its audit trail stays); it polls no more. Jobs it started run on. */
export async function deleteSchedule(deps: TriggerDeps, actor: Actor, scheduleId: string): Promise<ScheduleView> {
  const current = await loadSchedule(deps, actor, scheduleId);
  await deps.schedules.delete(actor.customerId, scheduleId, actor.principalArn);
  return toScheduleView(current);
}
