import type { Command } from 'commander';
import type {
  CreateRouteInput,
  CreateScheduleInput,
  Page,
  RouteView,
  ScheduleView,
  UpdateRouteInput,
  UpdateScheduleInput,
} from '../../core/api/types';
import type { ApiClient } from '../client';
import { action, type Context, integer } from '../context';
import { EXIT, usageError } from '../errors';
import { describe } from '../output';
import { endpointIdOf, splitLocation } from '../resolve';

/** `<endpoint>:<folder>` as a trigger's side: the folder relative to the endpoint, no leading or trailing / ("" = its base). */
async function sideOf(client: ApiClient, text: string, what: string) {
  const { endpoint, path } = splitLocation(text, what);
  return { endpointId: await endpointIdOf(client, endpoint), path: path.replace(/^\/+|\/+$/g, '') };
}

/** 90, 90s, 5m, 1h, 1d → seconds. */
export function seconds(value: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (!match) throw usageError(`--every must be a duration such as 90s, 5m, 1h or 1d, not ${value}`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

interface TriggerOptions {
  name?: string;
  source?: string;
  pattern?: string;
  target?: string;
  createDirectories?: boolean;
  enable?: boolean;
  disable?: boolean;
  disabled?: boolean;
  includeSubfolders?: boolean;
  every?: number;
  cron?: string;
  timeZone?: string;
  minimumFileAge?: number;
  after?: string;
  archive?: string;
}

function enabledOf(o: TriggerOptions): boolean | undefined {
  if (o.enable && o.disable) throw usageError('give --enable or --disable, not both');
  return o.enable ? true : o.disable ? false : undefined;
}

function timingOf(o: TriggerOptions): CreateScheduleInput['timing'] | undefined {
  if (o.every !== undefined && o.cron) throw usageError('give --every or --cron, not both');
  if (o.every !== undefined) return { kind: 'rate', everySeconds: o.every };
  if (o.cron) return { kind: 'cron', expression: o.cron, ...(o.timeZone ? { timeZone: o.timeZone } : {}) };
  if (o.timeZone) throw usageError('--time-zone goes with --cron');
  return undefined;
}

function afterOf(o: TriggerOptions): CreateScheduleInput['afterTransfer'] | undefined {
  const action = o.after?.toUpperCase() ?? (o.archive ? 'MOVE' : undefined);
  if (action === undefined) return undefined;
  if (action === 'MOVE') {
    if (!o.archive) throw usageError('--after move needs --archive <folder>');
    return { action, archivePath: o.archive.replace(/^\/+|\/+$/g, '') };
  }
  if (o.archive) throw usageError('--archive goes with --after move');
  if (action === 'LEAVE' || action === 'DELETE') return { action };
  throw usageError(`--after must be leave, delete or move, not ${o.after}`);
}

const defined = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

type Kind = 'routes' | 'schedules';
type View = RouteView | ScheduleView;

function line(kind: Kind, v: View): string {
  const source = `${v.source.endpointId}:/${v.source.path}${v.source.pattern ? `/${v.source.pattern}` : ''}`;
  const when = kind === 'schedules' ? `  ${timingText(v as ScheduleView)}` : '';
  return `${v.id}  ${v.name}  ${v.enabled ? 'enabled' : 'disabled'}  ${source} → ${v.target.endpointId}:/${v.target.path}${when}`;
}

const timingText = (s: ScheduleView) =>
  s.timing.kind === 'rate' ? `every ${s.timing.everySeconds} s` : `cron "${s.timing.expression}" ${s.timing.timeZone}`;

async function createRoute(context: Context, o: TriggerOptions) {
  if (!o.name || !o.source || !o.target) throw usageError('a route needs --name, --source and --target');
  const client = await context.client();
  const body: CreateRouteInput = defined({
    name: o.name,
    enabled: o.disabled ? false : undefined,
    source: defined({
      ...(await sideOf(client, o.source, '--source')),
      pattern: o.pattern,
      includeSubfolders: o.includeSubfolders,
    }),
    target: defined({
      ...(await sideOf(client, o.target, '--target')),
      createDirectories: o.createDirectories === false ? false : undefined,
    }),
  });
  const route = await client.post<RouteView>('/routes', body);
  context.out.result(route, () => line('routes', route));
  return EXIT.OK;
}

async function createSchedule(context: Context, o: TriggerOptions) {
  if (!o.name || !o.source || !o.target) throw usageError('a schedule needs --name, --source, --target and --every or --cron');
  const timing = timingOf(o);
  if (!timing) throw usageError('a schedule needs --every (e.g. 5m) or --cron (e.g. "0 6 * * 1-5")');
  const client = await context.client();
  const body: CreateScheduleInput = defined({
    name: o.name,
    enabled: o.disabled ? false : undefined,
    source: defined({ ...(await sideOf(client, o.source, '--source')), pattern: o.pattern }),
    target: defined({
      ...(await sideOf(client, o.target, '--target')),
      createDirectories: o.createDirectories === false ? false : undefined,
    }),
    timing,
    minimumFileAgeSeconds: o.minimumFileAge,
    afterTransfer: afterOf(o),
  });
  const schedule = await client.post<ScheduleView>('/schedules', body);
  context.out.result(schedule, () => line('schedules', schedule));
  return EXIT.OK;
}

/** A PATCH replaces a source or target whole: options naming part of one are merged onto the current one. */
async function update(kind: Kind, context: Context, id: string, o: TriggerOptions) {
  const client = await context.client();
  const changesSource = o.source !== undefined || o.pattern !== undefined || o.includeSubfolders !== undefined;
  const changesTarget = o.target !== undefined || o.createDirectories === false;
  const current = changesSource || changesTarget ? await client.get<View>(`/${kind}/${id}`) : undefined;
  const source =
    current && changesSource
      ? defined({
          ...current.source,
          ...(o.source ? await sideOf(client, o.source, '--source') : {}),
          pattern: o.pattern ?? current.source.pattern,
          ...(kind === 'routes' && o.includeSubfolders !== undefined ? { includeSubfolders: o.includeSubfolders } : {}),
        })
      : undefined;
  const target =
    current && changesTarget
      ? {
          ...current.target,
          ...(o.target ? await sideOf(client, o.target, '--target') : {}),
          ...(o.createDirectories === false ? { createDirectories: false } : {}),
        }
      : undefined;
  const patch = defined({
    name: o.name,
    enabled: enabledOf(o),
    source,
    target,
    ...(kind === 'schedules' ? { timing: timingOf(o), minimumFileAgeSeconds: o.minimumFileAge, afterTransfer: afterOf(o) } : {}),
  }) as UpdateRouteInput & UpdateScheduleInput;
  if (Object.keys(patch).length === 0)
    throw usageError(`nothing to change: name at least one setting (eft ${kind} update --help)`);
  const view = await client.patch<View>(`/${kind}/${id}`, patch);
  context.out.result(view, () => line(kind, view));
  return EXIT.OK;
}

function register(program: Command, kind: Kind) {
  const singular = kind === 'routes' ? 'route' : 'schedule';
  const group = program
    .command(kind)
    .description(
      kind === 'routes'
        ? "routes: deliver each object created under an S3 endpoint's folder to a target folder"
        : "schedules: poll a partner's SFTP folder and pull new files to a target folder",
    );
  const common = (command: Command, creating: boolean) => {
    command
      .option('--name <name>', `the ${singular}'s name`)
      .option(
        '--source <endpoint:folder>',
        kind === 'routes' ? 'the S3 endpoint and folder watched (e.g. outbox:/reports)' : 'the SFTP endpoint and folder polled',
      )
      .option('--pattern <glob>', 'only file names matching this (* and ?)')
      .option('--target <endpoint:folder>', 'where files are delivered (each keeps its name)')
      .option('--no-create-directories', 'fail instead of creating a missing SFTP target folder');
    if (kind === 'routes') command.option('--include-subfolders', 'objects in sub-folders too (they keep their sub-path)');
    else {
      command
        .option('--every <duration>', 'poll at this rate: 90s, 5m, 1h, 1d (at least 60 s in AWS)', seconds)
        .option('--cron <expression>', 'poll on this five-field cron (minute hour day month weekday)')
        .option('--time-zone <zone>', 'the IANA time zone of --cron (default UTC)')
        .option(
          '--minimum-file-age <seconds>',
          'take a file this old at once; a younger one once unchanged across polls',
          integer('--minimum-file-age'),
        )
        .option('--after <action>', 'what to do with a delivered file at the partner: leave (default), delete or move')
        .option('--archive <folder>', 'with --after move: the folder to move it to');
    }
    if (creating) command.option('--disabled', `create the ${singular} disabled`);
    else command.option('--enable', `enable the ${singular}`).option('--disable', `disable the ${singular}`);
    return command;
  };
  common(group.command('create').description(`create a ${singular}`), true).action(
    action((context, o) => (kind === 'routes' ? createRoute(context, o) : createSchedule(context, o))),
  );
  group
    .command('list')
    .description(`list your ${kind}`)
    .option('--limit <n>', 'page size (1-100)', integer('--limit'))
    .option('--cursor <cursor>', 'the page after the one that printed it')
    .action(
      action(async (context, o: { limit?: number; cursor?: string }) => {
        const page = await (await context.client()).get<Page<View>>(`/${kind}`, { limit: o.limit, cursor: o.cursor });
        context.out.result(page, () => {
          const rows = page.items.map((v) => line(kind, v));
          const more = page.nextCursor ? `\nmore: eft ${kind} list --cursor ${page.nextCursor}` : '';
          return `${rows.length ? rows.join('\n') : `no ${kind}`}${more}`;
        });
        return EXIT.OK;
      }),
    );
  group
    .command(`get <${singular}>`)
    .description(`show a ${singular}`)
    .action(
      action(async (context, id: string) => {
        const view = await (await context.client()).get<View>(`/${kind}/${id}`);
        context.out.result(view, () => describe(view));
        return EXIT.OK;
      }),
    );
  common(
    group.command(`update <${singular}>`).description(`change a ${singular} (options not given stay as they are)`),
    false,
  ).action(action((context, id: string, o: TriggerOptions) => update(kind, context, id, o)));
  group
    .command(`delete <${singular}>`)
    .description(`delete a ${singular}`)
    .action(
      action(async (context, id: string) => {
        const view = await (await context.client()).delete<View>(`/${kind}/${id}`);
        context.out.result(view ?? { id, deleted: true }, () => `${id} deleted`);
        return EXIT.OK;
      }),
    );
}

export function triggersCommands(program: Command): void {
  register(program, 'routes');
  register(program, 'schedules');
}
