/**
 * docs/runbooks/: each runbook exists and ends with the commands and the alarms or metrics it relies on, and
 * every one of them is real: an `npm run` script of package.json, a route of the REST API, an alarm the stack
 * defines (resources/*.yml), a metric of core/domain/metric-names.ts or a built-in metric an alarm or the
 * dashboard reads. Renaming an alarm, a metric, a script or a route without the runbooks fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { METRIC_NAMES } from '../../core/domain/metric-names';

const ROOT = resolve(__dirname, '..', '..');
const RUNBOOKS = join(ROOT, 'docs', 'runbooks');

/** The runbooks issue 16 asks for. */
const EXPECTED = [
  'region-down.md',
  'job-stuck.md',
  'dlq-has-messages.md',
  'host-key-changed.md',
  'rotate-partner-credentials.md',
  'onboard-customer.md',
  'deploy-without-stopping-transfers.md',
];
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML is untyped
type Json = any;

function yamlFile(...path: string[]): Json {
  // Our own templates: their anchors (one alarm topic for every alarm) are not an attack; no alias limit.
  return parse(readFileSync(join(ROOT, ...path), 'utf8'), { maxAliasCount: -1 });
}

/** Every object in a parsed document, depth first. */
function* nodes(node: Json): Generator<Json> {
  if (Array.isArray(node)) for (const item of node) yield* nodes(item);
  else if (node && typeof node === 'object') {
    yield node;
    for (const value of Object.values(node)) yield* nodes(value);
  }
}

const resourceFiles = readdirSync(join(ROOT, 'resources')).filter((f) => f.endsWith('.yml'));
const resources = resourceFiles.map((f) => yamlFile('resources', f));

/** The stack's alarm names, as the runbooks write them (eft-<stage>-…). */
const ALARMS = new Set(
  resources.flatMap((doc) =>
    Object.values((doc?.Resources ?? {}) as Record<string, Json>)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => String(r.Properties.AlarmName).replace(`\${self:service}-\${sls:stage}-`, 'eft-<stage>-')),
  ),
);

/** "Namespace MetricName" of every AWS metric an alarm or the dashboard reads. */
const BUILT_IN_METRICS = new Set<string>();
for (const node of resources.flatMap((doc) => [...nodes(doc)])) {
  if (typeof node.Namespace === 'string' && typeof node.MetricName === 'string' && node.Namespace.startsWith('AWS/')) {
    BUILT_IN_METRICS.add(`${node.Namespace} ${node.MetricName}`);
  }
}
const dashboardBody = yamlFile('resources', 'dashboard.yml').Resources.Dashboard.Properties.DashboardBody['Fn::Sub'][0];
// The conditional alarms' variable stands for more list entries (or none); every other ${…} for a string's content.
const dashboard = JSON.parse(
  String(dashboardBody)
    .replace(`\${StagingReplicationAlarms}`, '')
    .replace(/\$\{[^}]+\}/g, 'x'),
);
for (const widget of dashboard.widgets as Json[]) {
  for (const row of (widget.properties.metrics ?? []) as Json[]) {
    if (typeof row[0] === 'string' && row[0].startsWith('AWS/')) BUILT_IN_METRICS.add(`${row[0]} ${row[1]}`);
  }
}

const SCRIPTS = new Set(Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts));

/** "METHOD /path" of every REST route (functions/*.yml http events). */
const ROUTES = new Set(
  readdirSync(join(ROOT, 'functions'))
    .filter((f) => f.endsWith('.yml'))
    .flatMap((f) => Object.values((yamlFile('functions', f) ?? {}) as Record<string, Json>))
    .flatMap((fn) => (fn.events ?? []) as Json[])
    .filter((event) => event.http)
    .map((event) => `${String(event.http.method).toUpperCase()} ${event.http.path}`),
);

/** The `code` spans of a runbook's section (## <title> up to the next ##). */
function spansOf(text: string, title: string): string[] {
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) return [];
  const rest = text.slice(start + title.length + 5);
  const end = rest.indexOf('\n## ');
  return [...(end < 0 ? rest : rest.slice(0, end)).matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
}

type Checked = { ok: boolean; verifiable: boolean };

function checkCommand(span: string): Checked {
  const script = /^npm run ([\w:-]+)/.exec(span);
  if (script) return { ok: SCRIPTS.has(script[1] as string), verifiable: true };
  if (span === 'npm start' || span.startsWith('npm start ')) return { ok: true, verifiable: true };
  const route = /^(GET|POST|PATCH|DELETE) (\/[^\s?]*)/.exec(span);
  if (route) return { ok: ROUTES.has(`${route[1]} ${route[2]}`), verifiable: true };
  // The AWS CLI and osls itself: not the project's to check.
  if (span.startsWith('aws ') || span.startsWith('npx osls ')) return { ok: true, verifiable: false };
  return { ok: false, verifiable: false };
}

function checkSignal(span: string): boolean {
  if (span.startsWith('eft-<stage>-')) return ALARMS.has(span);
  if (span.startsWith('AWS/')) return BUILT_IN_METRICS.has(span);
  return (METRIC_NAMES as string[]).includes(span);
}

const read = (name: string) => readFileSync(join(RUNBOOKS, name), 'utf8');

describe('runbooks (docs/runbooks)', () => {
  test('the catalogue it checks against is read: alarms, metrics, scripts and routes', () => {
    expect(ALARMS).toContain('eft-<stage>-stuck-jobs');
    expect(ALARMS).toContain('eft-<stage>-s3-events-dlq');
    expect(BUILT_IN_METRICS).toContain('AWS/SQS ApproximateNumberOfMessagesVisible');
    expect(SCRIPTS).toContain('drill');
    expect(ROUTES).toContain('POST /jobs/{jobId}/redrive');
  });

  test('every runbook issue 16 asks for exists, and the index links each one', () => {
    const present = readdirSync(RUNBOOKS);
    expect(present).toEqual(expect.arrayContaining([...EXPECTED, 'README.md']));
    const index = read('README.md');
    for (const name of EXPECTED) expect({ name, linked: index.includes(`](${name})`) }).toEqual({ name, linked: true });
  });

  test.each(EXPECTED)('%s names commands that exist, at least one of them the project’s', (name) => {
    const commands = spansOf(read(name), 'Commands').flatMap((span) => span.split(/, (?=[A-Z]+ \/)/));
    const checked = commands.map((span) => ({ span, ...checkCommand(span) }));
    expect(checked.filter((c) => !c.ok).map((c) => c.span)).toEqual([]);
    expect(checked.filter((c) => c.verifiable).length).toBeGreaterThan(0);
  });

  test.each(EXPECTED)('%s names alarms and metrics the stack has, at least one alarm', (name) => {
    const signals = spansOf(read(name), 'Alarms and metrics').flatMap((span) => span.split(', '));
    expect(signals.filter((span) => !checkSignal(span))).toEqual([]);
    expect(signals.filter((span) => span.startsWith('eft-<stage>-')).length).toBeGreaterThan(0);
  });

  test('every alarm the runbooks mention anywhere is one the stack has, and every alarm has a runbook', () => {
    const mentioned = new Set<string>();
    for (const name of [...EXPECTED, 'README.md']) {
      for (const [, alarm] of read(name).matchAll(/`(eft-<stage>-[a-z0-9-]+)`/g)) mentioned.add(alarm as string);
    }
    // Named like alarms but something else: the alarm topic, a table, queues (their DLQ alarms share the DLQs' names).
    const notAlarms = ['eft-<stage>-alarms', 'eft-<stage>-principals', 'eft-<stage>-leases', 'eft-<stage>-ingest'];
    const queues = ['eft-<stage>-s3-events', 'eft-<stage>-schedule-polls', 'eft-<stage>-webhook-deliveries'];
    const unknown = [...mentioned].filter((m) => !ALARMS.has(m) && !notAlarms.includes(m) && !queues.includes(m));
    expect(unknown).toEqual([]);
    const covered = new Set(EXPECTED.flatMap((name) => spansOf(read(name), 'Alarms and metrics')));
    expect([...ALARMS].filter((alarm) => !covered.has(alarm))).toEqual([]);
  });
});
