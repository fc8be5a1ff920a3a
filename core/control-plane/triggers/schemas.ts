import { z } from 'zod';
import { ROUTE_ID_PATTERN, SCHEDULE_ID_PATTERN } from '../../domain/ids';
import { EndpointIdSchema, PatternSchema, RelativePathSchema } from '../transfers/schemas';

/**
 * Request schemas of the route and schedule APIs (issue 14). Like the
 * endpoint schemas they validate requests, type them and generate docs/api.md;
 * objects are strict (unknown fields are refused). What a schema cannot know
 * (whose endpoint, its kind and direction, where paths land) the service
 * checks, with 400s naming the same fields.
 */

const name = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  .refine((v) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(v), 'must not contain control characters')
  .refine((v) => !/[<>`$\\{}]/.test(v), 'must not contain any of < > ` $ \\ { }');

/** A folder relative to the endpoint: "" (or absent) is the endpoint's prefix or base path itself; no trailing "/". */
const folder = z
  .union([z.literal(''), RelativePathSchema])
  .default('')
  .transform((v) => v.replace(/\/+$/, ''));

/** A folder that must be named (a target, an archive). */
const namedFolder = RelativePathSchema.transform((v) => v.replace(/\/+$/, '')).refine((v) => v !== '', 'must name a folder');

const target = z.strictObject({
  endpointId: EndpointIdSchema,
  /** The folder files are delivered into (relative to the target endpoint); each keeps its name. */
  path: namedFolder,
  /** An SFTP target folder that does not exist is created (default); false fails the job instead. */
  createDirectories: z.boolean().default(true),
});

const routeSource = z.strictObject({
  /** An S3 endpoint of yours whose direction allows it as a source (OUTBOUND or BOTH). */
  endpointId: EndpointIdSchema,
  /** The folder under the endpoint's prefix whose new objects are delivered ("" = the whole prefix). */
  path: folder,
  /** Glob on the object's name (* and ?); absent = every object. */
  pattern: PatternSchema.optional(),
  /** Objects in sub-folders match too and keep their sub-path under the target folder (default false). */
  includeSubfolders: z.boolean().default(false),
});

export const CreateRouteSchema = z.strictObject({
  name,
  enabled: z.boolean().default(true),
  source: routeSource,
  target,
});
export type CreateRouteRequest = z.output<typeof CreateRouteSchema>;

/** Every field optional; each one given replaces the current value whole (`{"enabled": false}` disables). */
export const UpdateRouteSchema = z
  .strictObject({
    name: name.optional(),
    enabled: z.boolean().optional(),
    source: routeSource.optional(),
    target: target.optional(),
  })
  .refine((v) => Object.values(v).some((field) => field !== undefined), 'must change at least one field');
export type UpdateRouteRequest = z.output<typeof UpdateRouteSchema>;

const timing = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('rate'),
    /** Seconds between polls; at least the deployment's minimum (60 in AWS). */
    everySeconds: z.number().int('must be a whole number of seconds').positive().max(31_536_000),
  }),
  z.strictObject({
    kind: z.literal('cron'),
    /** Five fields: minute hour day-of-month month day-of-week. */
    expression: z.string().trim().min(1, 'must not be empty').max(120, 'must be at most 120 characters'),
    /** An IANA time zone name (e.g. America/New_York); default UTC. */
    timeZone: z.string().max(64, 'must be at most 64 characters').default('UTC'),
  }),
]);

const afterTransfer = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('LEAVE') }),
  z.strictObject({ action: z.literal('DELETE') }),
  z.strictObject({
    action: z.literal('MOVE'),
    /** The archive folder relative to the source endpoint's base path; created if missing. Not the polled folder. */
    archivePath: namedFolder,
  }),
]);

const scheduleSource = z.strictObject({
  /** An SFTP endpoint of yours whose direction allows it as a source (OUTBOUND or BOTH). */
  endpointId: EndpointIdSchema,
  /** The folder polled (relative to the endpoint's base path; "" = the base path). Files directly in it, not in sub-folders. */
  path: folder,
  pattern: PatternSchema.optional(),
});

export const CreateScheduleSchema = z.strictObject({
  name,
  enabled: z.boolean().default(true),
  source: scheduleSource,
  target,
  timing,
  /** A file at least this old is taken at the first poll that sees it; a younger one once unchanged across two polls. */
  minimumFileAgeSeconds: z.number().int().min(0).max(31_536_000).default(0),
  /** What happens to a pulled file at the partner once its job SUCCEEDED (default LEAVE). */
  afterTransfer: afterTransfer.default({ action: 'LEAVE' }),
});
export type CreateScheduleRequest = z.output<typeof CreateScheduleSchema>;

export const UpdateScheduleSchema = z
  .strictObject({
    name: name.optional(),
    enabled: z.boolean().optional(),
    source: scheduleSource.optional(),
    target: target.optional(),
    timing: timing.optional(),
    minimumFileAgeSeconds: z.number().int().min(0).max(31_536_000).optional(),
    afterTransfer: afterTransfer.optional(),
  })
  .refine((v) => Object.values(v).some((field) => field !== undefined), 'must change at least one field');
export type UpdateScheduleRequest = z.output<typeof UpdateScheduleSchema>;

export const RoutePathSchema = z.strictObject({
  routeId: z.string().regex(ROUTE_ID_PATTERN, 'is not a route id'),
});

export const SchedulePathSchema = z.strictObject({
  scheduleId: z.string().regex(SCHEDULE_ID_PATTERN, 'is not a schedule id'),
});

export const TriggerPageQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(2048).optional(),
});
